#!/usr/bin/env bash
# The README's test command. Installs what is missing, then runs every suite
# (or those named: unit integration vsix e2e) and ends with one line:
#   tests: N passed, N failed[, N skipped]
set -uo pipefail
cd "$(dirname "$0")/.."

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(lint unit integration vsix e2e)
needs_debian=0
for s in "${suites[@]}"; do case "$s" in integration|e2e) needs_debian=1 ;; esac; done

if [ "$needs_debian" = 1 ]; then bash scripts/ensure-deps.sh --debian || exit 1; else bash scripts/ensure-deps.sh || exit 1; fi

mkdir -p test-results
stats="$(mktemp)"
trap 'rm -f "$stats"' EXIT
export INFRAKT_STATS_FILE="$stats"
status=0
reporter=(--reporter ./test/support/summary-reporter.cjs)

# Runs a suite; a suite that fails without reporting counts (crash, no files) counts as one failure.
run_counted() {
  local before after
  before=$(wc -l <"$stats")
  "$@"
  local rc=$?
  after=$(wc -l <"$stats")
  if [ "$rc" != 0 ]; then
    status=1
    [ "$after" -gt "$before" ] || echo '{"passed":0,"failed":1,"skipped":0}' >>"$stats"
  fi
}

# A test run leaves the checkout as it found it (tests write under test-results/).
tree_before=$(bash scripts/tree-state.sh)

echo "== compile"
rm -rf out # stale output of deleted tests must not run
{ npx tsc -p tsconfig.json && node scripts/copy-shell.mjs; } || { echo '{"passed":0,"failed":1,"skipped":0}' >>"$stats"; status=1; }

for suite in "${suites[@]}"; do
  echo "== $suite"
  case "$suite" in
    lint)
      if npx eslint . && npx prettier --check . >/dev/null && npx tsc -p webview/tsconfig.json && bash scripts/shellcheck.sh &&
        npx depcruise src webview test bench --config .dependency-cruiser.cjs --output-type err && npx knip --include exports,types,files,duplicates; then
        echo '{"passed":1,"failed":0,"skipped":0}' >>"$stats"
      else
        echo "lint failed (run: npm run lint)"; echo '{"passed":0,"failed":1,"skipped":0}' >>"$stats"; status=1
      fi
      ;;
    unit)
      # Some unit tests run sh on generated scripts: allow for a busy machine.
      run_counted npx mocha "${reporter[@]}" --timeout 10000 'out/test/unit/**/*.test.js' ;;
    integration)
      run_counted npx mocha "${reporter[@]}" --timeout 120000 'out/test/integration/**/*.test.js' ;;
    vsix)
      npm run --silent package >test-results/package.log 2>&1 || cat test-results/package.log
      run_counted npx mocha "${reporter[@]}" 'out/test/package/**/*.test.js' ;;
    e2e)
      run_counted node out/test/e2e/run.js ;;
    *) echo "unknown suite: $suite (use: lint unit integration vsix e2e)"; status=1 ;;
  esac
done

echo "== work tree"
tree_after=$(bash scripts/tree-state.sh)
if [ "$tree_before" = "$tree_after" ]; then
  echo "unchanged by the tests"
  echo '{"passed":1,"failed":0,"skipped":0}' >>"$stats"
else
  echo "the checkout changed while the tests ran (tests must write under test-results/; README pictures: npm run docs:screenshots; or were files edited meanwhile?):"
  diff <(printf '%s\n' "$tree_before") <(printf '%s\n' "$tree_after") | sed -n 's/^[<>] /  /p'
  echo '{"passed":0,"failed":1,"skipped":0}' >>"$stats"
  status=1
fi

node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const t = lines.reduce((a, c) => ({ passed: a.passed + c.passed, failed: a.failed + c.failed, skipped: a.skipped + c.skipped }), { passed: 0, failed: 0, skipped: 0 });
console.log(`tests: ${t.passed} passed, ${t.failed} failed` + (t.skipped ? `, ${t.skipped} skipped` : ""));
process.exit(t.failed > 0 ? 1 : 0);
' "$stats" || status=1
exit $status
