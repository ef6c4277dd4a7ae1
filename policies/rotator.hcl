# eca-rotator: the sidecar's own policy, for the default configuration
#   vault.kv_mount = secret, vault.prefixes = [api-credentials], vault.state_prefix = eca-rotator,
#   Salesforce connection credentials under eca-rotator/connections/.
# It grants exactly what src/core/access/required-capabilities.ts lists (a test loads this file into a real
# server and checks every listed capability through sys/capabilities-self), and nothing more: no destroy, no
# undelete, no metadata replace, no version deletes of credentials, no access outside these prefixes.
# For another mount or prefix, replace "secret/" and "api-credentials/" throughout; `eca-rotator check`
# then names any capability the token still lacks. Same text on Vault >= 1.9 and OpenBao 2.x.

# Token self-management. Vault's built-in "default" policy grants these too; they are repeated so the policy
# also works for a token or role created with no_default_policy.
path "auth/token/lookup-self" {
  capabilities = ["read"] # learn the token's TTL at start-up
}
path "auth/token/renew-self" {
  capabilities = ["update"] # renew at about two thirds of the TTL
}
path "sys/capabilities-self" {
  capabilities = ["update"] # `eca-rotator check` verifies this policy with it
}

# Managed credentials: metadata.
#   list  - scan walks the prefix folder by folder
#   read  - scan reads each entry's custom_metadata and version times (deadlines never need secret data)
#   patch - the rotator stamps status keys (rotation_state, last_rotated, rotation_verified_at, ...) and clears
#           the rotate/rotate_reason trigger with a merge PATCH, which keeps other teams' keys.
# allowed_parameters: PATCH may carry custom_metadata only, so the rotator cannot change max_versions,
# cas_required or delete_version_after. It has no create/update here, so it can never replace the metadata
# with POST (which would erase custom_metadata it does not own), and no delete.
path "secret/metadata/api-credentials/*" {
  capabilities = ["list", "read", "patch"]
  allowed_parameters = {
    "custom_metadata" = []
  }
}

# OpenBao's bulk listing (one LIST returns the metadata of a whole folder). Optional: without it, or on Vault,
# scan falls back to one metadata read per credential.
path "secret/detailed-metadata/api-credentials/*" {
  capabilities = ["list"]
}

# Managed credentials: data.
#   read          - the current pair (and a given version, for rollback)
#   create/update - the rotated pair is written as a new version with check-and-set (POST with cas)
#   patch         - PATCH with cas, to change only the rotator's fields and keep fields it does not own
# No delete: the rotator never deletes credential versions.
path "secret/data/api-credentials/*" {
  capabilities = ["read", "create", "update", "patch"]
}

# The rotator's own state: rotation journals and leases, written with check-and-set.
path "secret/data/eca-rotator/*" {
  capabilities = ["create", "read", "update", "delete"]
}
# list - find unfinished rotations after a restart; read - current version for cas; delete - remove a finished
# journal or released lease with all its versions.
path "secret/metadata/eca-rotator/*" {
  capabilities = ["list", "read", "delete"]
}

# The mount's settings (max_versions, cas_required, delete_version_after; no secret): `eca-rotator check` refuses a
# mount whose delete_version_after would soft-delete journal and lease versions in the middle of a rotation.
path "secret/config" {
  capabilities = ["read"]
}

# The Salesforce admin connections' client id and secret live under the state prefix but are written by people,
# not by the rotator. These more specific paths take precedence over eca-rotator/* above, so the rotator can
# read them but never overwrite or delete them (a bug in state clean-up cannot destroy its own login). "deny"
# on their metadata: the rotator has no reason to list, read or delete it.
path "secret/data/eca-rotator/connections/*" {
  capabilities = ["read"]
}
path "secret/metadata/eca-rotator/connections/*" {
  capabilities = ["deny"]
}
