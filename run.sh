#!/usr/bin/env bash
# The one command that runs the product: installs what is missing (Node 24, the bao binary, node_modules),
# starts a throw-away OpenBao dev server (or uses $VAULT_ADDR/$VAULT_TOKEN) and the Salesforce simulator, seeds
# sample credentials, runs `eca-rotator serve` and narrates the rotations, the chat message and the report.
#   ./run.sh                   the demo; Ctrl-C stops everything it started
#   ./run.sh --exit-when-done  stop by itself once the rotations and the report are shown
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
exec node src/demo/run-demo.ts "$@"
