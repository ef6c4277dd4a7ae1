# eca-rotator: the expiry report and dashboards (`eca-rotator scan` / `report` with a read-only token)
# Metadata only: entry names, versions, creation times and custom_metadata (deadlines, states, consumers,
# contacts) are enough for every report, and none of them is secret. No secret data, no writes.
path "secret/metadata/api-credentials/*" {
  capabilities = ["list", "read"] # walk the prefix, read each entry's metadata
}

# OpenBao's bulk listing: one LIST per folder instead of one read per entry (optional; Vault has none).
path "secret/detailed-metadata/api-credentials/*" {
  capabilities = ["list"]
}

# With `readers:`, who read each credential: the entries serve's reader feed shares under the state prefix
# (paths, reader labels, KV version numbers, times; nothing secret). Only that folder: no journal, lease or claim.
path "secret/metadata/eca-rotator/readers/" {
  capabilities = ["list"] # one LIST per scan
}
path "secret/data/eca-rotator/readers/*" {
  capabilities = ["read"] # each shard once per scan
}
