#!/usr/bin/env bash
# Installs what the README's commands need and is missing:
#   npm dependencies (npm ci) always; Debian packages when asked (--debian),
#   installed when run as root, otherwise printed as one apt-get line.
# Node.js must be 20.x: the VS Code the UI tests and the sandbox run in
# (code-server 4.100.3) builds its native modules for Node 20 and refuses others.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(openssh-server awscli postgresql mariadb-server redis-server cron zstd ripgrep libkrb5-dev chromium unzip busybox shellcheck sqlite3 radosgw ceph-mon ceph-osd uuid-runtime faketime age curl wget)

# Runs an apt-get command; while another apt or dpkg process holds the package
# lock (usual on a fresh VM: unattended upgrades), says so and waits for it —
# up to 15 minutes — instead of failing. Any other failure is shown as it is.
apt_waiting() {
  local out waited=0
  while :; do
    if out=$("$@" 2>&1); then return 0; fi
    if ! grep -Eq 'Could not get lock|Unable to lock|is held by process|Unable to acquire the dpkg frontend lock' <<<"$out"; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    if [ "$waited" -ge 900 ]; then
      printf '%s\n' "$out" >&2
      echo "Another apt or dpkg process has held the package lock for 15 minutes — let it finish (or stop it), then run this again." >&2
      return 1
    fi
    [ "$waited" -gt 0 ] || echo "Waiting for another apt or dpkg process to finish (it holds the package lock)…"
    sleep 10
    waited=$((waited + 10))
  done
}

REQUIRED_NODE_MAJOR=20
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" != "$REQUIRED_NODE_MAJOR" ]; then
  echo "infrakt needs Node.js ${REQUIRED_NODE_MAJOR}.x (this is $(node -v)): code-server 4.100.3, the VS Code that the UI tests and the sandbox run in, installs only on Node ${REQUIRED_NODE_MAJOR}." >&2
  exit 1
fi

if [ "${1:-}" = "--debian" ]; then
  missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # code-server's install compiles native modules (node-gyp): make, a C++ compiler, python3.
  command -v make >/dev/null || missing+=(make)
  command -v g++ >/dev/null || missing+=(g++)
  command -v python3 >/dev/null || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "Installing Debian packages: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt_waiting apt-get update -qq
      apt_waiting apt-get install -y -qq --no-install-recommends "${missing[@]}"
      # The packages' own services are not used: tests start their own instances on free ports.
      for svc in postgresql mariadb redis-server ssh cron; do service "$svc" stop >/dev/null 2>&1 || true; done
    else
      echo "Missing Debian packages. Install them once with:"
      echo "  sudo apt-get install -y ${missing[*]}"
      exit 1
    fi
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "Installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
