# Audit devices for eca-rotator's reader feed (docs/reader-feed.md), to add to the Vault or OpenBao server
# configuration (OpenBao accepts audit devices only there). The feed keeps, per managed credential, which
# version each reader last read; it keeps nothing else of an entry.

# The log the feed can follow (readers.file), and what keeps Vault answering while the rotator restarts:
# a request succeeds as long as one audit device takes it.
audit "file" "file" {
  options = {
    file_path = "/var/log/openbao/audit.log"
    mode      = "0640" # readable by the group the rotator runs in, when it follows this file
  }
}

# The feed's listener (readers.socket): Vault connects and writes one JSON entry per line. Loopback only, or a
# unix socket: the feed believes a line because of where it comes from.
audit "socket" "eca-rotator" {
  options = {
    address     = "127.0.0.1:9201"
    socket_type = "tcp"
    # For a unix socket (readers.socket: unix:/run/eca/audit.sock):
    # address     = "/run/eca/audit.sock"
    # socket_type = "unix"
  }
}
