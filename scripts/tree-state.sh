#!/usr/bin/env bash
# Prints the work tree's state as git sees it: each changed or untracked path (ignored ones,
# such as test-results/, left out) with a hash of its content. scripts/test.sh compares it
# before and after the suites, so a test that writes into the checkout fails the run.
#   bash scripts/tree-state.sh [dir]      (prints nothing outside a git work tree)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 0
while IFS= read -r -d '' entry; do
  file=${entry:3}
  hash=-
  if [ -f "$file" ] || [ -L "$file" ]; then hash=$(git hash-object --no-filters -- "$file"); fi
  printf '%s %s %s\n' "${entry:0:2}" "$hash" "$file"
done < <(git status --porcelain=v1 -z --untracked-files=all --no-renames)
