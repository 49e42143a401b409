#!/usr/bin/env bash
# Updates the README's pictures (docs/images/*.png): runs the UI suite, which keeps them
# in test-results/e2e/readme/, and copies them over. The tests themselves never write
# into the checkout; this is the one command that does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh --debian
echo "== compile"
rm -rf out
npx tsc -p tsconfig.json
node scripts/copy-shell.mjs
echo "== UI suite (it takes the pictures)"
node out/test/e2e/run.js ui
shots=test-results/e2e/readme
mkdir -p docs/images
copied=0
for f in "$shots"/*.png; do
  [ -f "$f" ] || continue
  cp "$f" "docs/images/$(basename "$f")"
  copied=$((copied + 1))
done
missing=()
for f in docs/images/*.png; do
  [ -f "$shots/$(basename "$f")" ] || missing+=("$f")
done
echo "docs:screenshots: $copied pictures copied from $shots/ to docs/images/"
if [ ${#missing[@]} -gt 0 ]; then
  echo "docs:screenshots: no test took ${missing[*]} (kept as they were)" >&2
  exit 1
fi
git status --short -- docs/images || true
