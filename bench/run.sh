#!/usr/bin/env bash
# Compiles and runs the benchmarks: bench/run.sh [ssh|backup|restore|listing|cron|activation]...
#   INFRAKT_BENCH_MB=50      size of each test database (default 500)
#   INFRAKT_BENCH_REPEAT=3   timed runs of each dump method (median shown)
#   INFRAKT_BENCH_RUNS=20    warm calls per SSH session / listing
#   INFRAKT_BENCH_S3=0       skip the S3 part of the backup bench (s3rver)
#   INFRAKT_BENCH_BREAKDOWN=0  skip the per-stage breakdown of Back Up Now
#   INFRAKT_BENCH_LISTING_RUNS=5  warm refreshes in the listing bench
#   INFRAKT_BENCH_SERVERS=30  servers sharing one bucket (listing bench)
#   INFRAKT_BENCH_FLEET_BACKUPS=50  backups per database on each of them
#   INFRAKT_BENCH_BEFORE=0   skip the listing bench's runs of the way before (slow)
#   INFRAKT_BENCH_ACTIVATION_RUNS=7  starts of VS Code in the activation bench (median shown)
#   INFRAKT_BENCH_VSIX=<file>  the package the activation bench measures (default: this tree's)
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
node scripts/copy-shell.mjs
exec node out/bench/index.js "$@"
