# eca-rotator: the weekly-report CronJob (`eca-rotator report --send` from cron instead of the daemon)
# What the command does in Vault, and nothing more: log in and learn its TTL, walk the prefix reading metadata
# (deadlines, states, consumers and contacts are all there; no secret data), and read the chat targets' URLs and
# HMAC keys that the config refers to with {vault: "eca-rotator/webhooks/NAME#FIELD"}. It writes nothing: a
# manual report's chat claim lives in the process's memory, since every invocation sends anyway.
# So a leaked token of this role cannot read or change any credential, the rotator's journals, leases or chat
# claims (it cannot silence the daemon's alerts), or the Salesforce connections.
# Chat secrets kept in files or environment variables (the Kubernetes manifests use a Secret file) need no
# Vault access at all; the webhooks stanza below is for {vault:} references, kept under eca-rotator/webhooks/.

# Token self-management (also in Vault's built-in "default" policy; repeated for roles without it).
path "auth/token/lookup-self" {
  capabilities = ["read"] # learn the token's TTL at start-up
}
path "auth/token/renew-self" {
  capabilities = ["update"] # renew at about two thirds of the TTL (a long scan)
}

# The inventory: list the prefix and read each entry's metadata.
path "secret/metadata/api-credentials/*" {
  capabilities = ["list", "read"]
}

# OpenBao's bulk listing: one LIST per folder instead of one read per entry (optional; Vault has none).
path "secret/detailed-metadata/api-credentials/*" {
  capabilities = ["list"]
}

# Chat target URLs and HMAC keys referenced as {vault: "eca-rotator/webhooks/NAME#FIELD"}.
path "secret/data/eca-rotator/webhooks/*" {
  capabilities = ["read"]
}
