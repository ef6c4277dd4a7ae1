# eca-rotator: operators who trigger rotations
#   bao kv metadata patch -mount=secret -custom-metadata=rotate=now -custom-metadata=rotate_reason=INC-42 api-credentials/payments/stripe
# (the CLI needs only the PATCH below; its mount lookup is covered by the built-in default policy).
#
# What this policy ENFORCES (tested against a real OpenBao server in test/policies/operator-policy.test.ts):
#   - only PATCH (merge patch) of the metadata of entries under api-credentials/;
#   - the PATCH may carry only the custom_metadata parameter: max_versions, cas_required,
#     delete_version_after (and OpenBao's metadata_cas*) are refused with 403, alone or mixed in;
#   - no metadata replace (POST/PUT, which would erase keys), no read or list of metadata, no secret data at all
#     (read or write), no delete, destroy or undelete of versions, no metadata delete, nothing outside the prefix.
#
# What it CANNOT enforce: which keys inside custom_metadata are set. Vault/OpenBao ACLs see custom_metadata as one
# parameter, so an operator holding this policy can set or remove (null) any key, not only the triggers `rotate`
# and `rotate_reason`: for example `provider` (turning management off), `auto_rotate`, `rotation_period`, or the
# rotator's own status keys such as `rotation_verified_at`. The server audit log records who did it.
# What such a change can NOT do: send a secret anywhere the rotator's config does not name. Metadata only chooses
# among configured Salesforce connections and Marketing Cloud tenants (sf_connection, sfmc_tenant), within the
# prefixes the config allows each; a URL in metadata (the old sfmc_auth_url) makes the entry invalid. Nor can it
# make the rotator rotate an app whose working pair the path does not hold (proof of possession at each start).
# If the rest is not acceptable, use operator-strict.hcl: it allows only the exact maps {rotate = "now"} and
# {rotate = "emergency"}, at the price of no rotate_reason (allowed values are matched exactly; a glob such as
# "*" works for plain string parameters but not inside a map).
path "secret/metadata/api-credentials/*" {
  capabilities = ["patch"]
  allowed_parameters = {
    "custom_metadata" = []
  }
}
