# Server configuration for HashiCorp Vault (>= 1.9) and OpenBao (2.x): the same file starts either server.
#   bao server -config=vault-config.hcl      (or: vault server -config=vault-config.hcl)
# A single node with integrated (raft) storage, TLS on the API listener, Prometheus telemetry. Adjust the paths
# and addresses marked below; test/server-config/vault-config.test.ts starts a real server from this file.
# Server-specific extras (OpenBao's `audit "file"` stanza, `seal "static"` auto-unseal, self-init) belong in a
# second file passed with another -config flag, so this one stays portable: deploy/vault/audit-devices.hcl is the
# one that wires the audit devices to eca-rotator's reader feed (readers.socket / readers.file).

# The web UI on the API listener. Harmless when a build ships without it.
ui = true

# mlock would keep memory out of swap, but containers rarely grant IPC_LOCK and Vault recommends turning it off
# with raft storage (its memory-mapped files do not mix with mlock); disable swap on the host instead. OpenBao
# has dropped mlock: older releases accept only `true` here, and 2.7 logs "unknown or unsupported field
# disable_mlock" and carries on, so the line keeps one file valid for both servers.
disable_mlock = true

# How clients and other nodes reach this node. Must match the listener addresses (and the TLS certificate's
# names) as seen from outside: use the DNS name of the node behind a load balancer.
api_addr     = "https://127.0.0.1:8200"
cluster_addr = "https://127.0.0.1:8201"

# Integrated storage: transactional, snapshot-able (`operator raft snapshot save`), and able to grow into an HA
# cluster by adding nodes with retry_join. The file backend would also work for one node but is not
# recommended for production. Back the folder with a persistent volume.
storage "raft" {
  path    = "/var/lib/vault/raft"
  node_id = "node1"
  # Raft timing at production speed (the default, 5, is tuned for slow development machines): leader election
  # after an unseal or a failover takes about a second instead of several.
  performance_multiplier = 1
}

listener "tcp" {
  address         = "127.0.0.1:8200" # 0.0.0.0:8200 to serve other hosts
  cluster_address = "127.0.0.1:8201" # raft and request forwarding between nodes (TLS is automatic there)

  # TLS is on: tokens travel in every request header. The key and certificate are re-read on SIGHUP, so they
  # can be rotated without a restart. The certificate must name api_addr's host (as a DNS or IP SAN).
  tls_cert_file   = "/etc/vault/tls/server.crt"
  tls_key_file    = "/etc/vault/tls/server.key"
  tls_min_version = "tls12"

  # Prometheus may scrape GET /v1/sys/metrics?format=prometheus without a token (metrics carry no secrets);
  # without this, the scraper needs a token with read on sys/metrics.
  telemetry {
    unauthenticated_metrics_access = true
  }
}

telemetry {
  # Keep metrics in memory for Prometheus for this long (it turns on the Prometheus format at all).
  prometheus_retention_time = "30s"
  # Stable metric names across nodes and restarts.
  disable_hostname = true
}
