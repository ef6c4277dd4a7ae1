#!/usr/bin/env bash
# The one command that runs the product: installs what is missing (Node 24, the bao binary, node_modules),
# starts a throw-away OpenBao dev server, seeds sample credentials and shows scan, report and check.
#   ./run.sh          the demo, then stops everything it started
#   ./run.sh --keep   leave the dev server running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
exec node src/demo/run-demo.ts "$@"
