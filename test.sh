#!/usr/bin/env bash
# The one test command (README and .ci/run call exactly this). Installs what is missing (Node 24, the bao
# binary, node_modules), then typechecks, lints, looks for unused code (knip) and runs every test against a real
# OpenBao dev server that the test run starts itself. Extra arguments go to vitest (e.g. ./test.sh test/core).
# The last line is always "N passed, N failed" with the real counts.
set -uo pipefail
cd "$(dirname "$0")"
SETUP_TEST_PACKAGES=1 source scripts/setup.sh || exit 1

status=0
echo "[test] typecheck" >&2
npx --no-install tsc --noEmit || status=1
echo "[test] lint" >&2
npx --no-install biome check . || status=1
echo "[test] unused files, exports and dependencies (knip)" >&2
npx --no-install knip --no-progress || status=1

results="$(mktemp -t eca-vitest-XXXXXX.json)"
trap 'rm -f "$results"' EXIT
echo "[test] vitest" >&2
npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=1

node scripts/print-test-counts.ts "$results" || status=1
exit $status
