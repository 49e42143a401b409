#!/usr/bin/env bash
# Lints every remote shell module (src/**/*.sh) as POSIX sh; settings in .shellcheckrc.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null || { echo "shellcheck not found — run: bash scripts/ensure-deps.sh --debian"; exit 1; }
mapfile -t files < <(find src -name '*.sh' | sort)
shellcheck --shell=sh "${files[@]}"
