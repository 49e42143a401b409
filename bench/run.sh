#!/usr/bin/env bash
# Compiles and runs the benchmarks: bench/run.sh [ssh|backup]...
#   INFRAKT_BENCH_MB=50      size of each test database (default 500)
#   INFRAKT_BENCH_REPEAT=3   timed runs of each dump method (median shown)
#   INFRAKT_BENCH_RUNS=20    warm calls per SSH session / listing
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
exec node out/bench/index.js "$@"
