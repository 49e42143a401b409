#!/usr/bin/env bash
# Runs the product: builds the VSIX, installs code-server once (tool cache),
# installs the VSIX into a persistent sandbox profile (.tmp/sandbox/) and
# serves VS Code on http://127.0.0.1:8080 (or the next free port).
# Ctrl-C, or SIGINT, SIGTERM or SIGHUP sent to this script or to the `npm run sandbox`
# that started it (an IDE's stop button, a process manager), stops everything this script
# started, at any point of the start-up; so does the death of that parent. The last line
# printed says so.
#   INFRAKT_SANDBOX_PORT   first port to try (default 8080)
#   INFRAKT_SANDBOX_DIR    profile and world data (default .tmp/sandbox)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PARENT_PID=$PPID
SANDBOX="${INFRAKT_SANDBOX_DIR:-$ROOT/.tmp/sandbox}"
mkdir -p "$SANDBOX"
SANDBOX=$(cd "$SANDBOX" && pwd)
EXT_DIR="$SANDBOX/extensions"
USER_DATA="$SANDBOX/user-data"
WORKSPACE="$SANDBOX/workspace"
CS_PID=""
STEP_PID=""
NAP_PID=""

say() { echo "sandbox: $*"; }

# Runs one start-up step in a process group of its own and waits for it. A signal then
# reaches this script at once (bash runs a trap only after a foreground command ends) and
# cleanup() stops the whole step, whatever it forked. Its output is redirected here, not
# around the call: a trap that runs meanwhile must still print to the terminal.
#   step [--log <file: stdout and stderr> | --stdout <file>] command...
step() {
  local rc=0 file
  case "$1" in
    --log)
      file=$2 && shift 2
      setsid "$@" >"$file" 2>&1 &
      ;;
    --stdout)
      file=$2 && shift 2
      setsid "$@" >"$file" &
      ;;
    *) setsid "$@" & ;;
  esac
  STEP_PID=$!
  wait_child "$STEP_PID" || rc=$?
  STEP_PID=""
  return "$rc"
}

# Waits for a child of this script and returns its status; meanwhile checks each second
# that the process that started the sandbox is still there.
wait_child() {
  local rc done_pid
  while :; do
    sleep 1 &
    NAP_PID=$!
    rc=0 done_pid=""
    wait -n -p done_pid "$1" "$NAP_PID" || rc=$?
    if [ "$done_pid" = "$1" ]; then
      kill "$NAP_PID" 2>/dev/null || true
      wait "$NAP_PID" 2>/dev/null || true
      NAP_PID=""
      return "$rc"
    fi
    NAP_PID=""
    check_parent
  done
}
stop_step() {
  [ -n "$STEP_PID" ] || return 0
  kill -TERM -- "-$STEP_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 -- "-$STEP_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$STEP_PID" 2>/dev/null || true
  STEP_PID=""
}

# ---------------------------------------------------------------------------
# TEST WORLD HOOK — the sandbox's servers (sshd, s3rver with a bucket,
# PostgreSQL with a sample database) start here, and the extension's store in
# "$USER_DATA/User/globalStorage/infrakt.infrakt/infrakt.sqlite" is seeded
# through the project's store code (test/world/sandboxMain.ts: one node process).
# start_test_world runs before code-server starts; stop_test_world runs on exit
# (also after Ctrl-C or a failed start) and must tolerate a partial start.
WORLD_DIR="$SANDBOX/world"
WORLD_JS="$SANDBOX/world.js"
WORLD_LOG="$SANDBOX/world.log"
WORLD_PID=""
start_test_world() {
  local store="$USER_DATA/User/globalStorage/infrakt.infrakt/infrakt.sqlite"
  local ready="$WORLD_DIR/ready.json" timeout=120
  say "starting the test world: sshd, s3rver, PostgreSQL (data in $WORLD_DIR)"
  # test/world/sandboxMain.ts as one file (the project's own modules inside, node_modules outside).
  step node_modules/.bin/esbuild test/world/sandboxMain.ts --bundle --loader:.sh=text --platform=node --target=node20 \
    --packages=external --log-level=warning --outfile="$WORLD_JS"
  mkdir -p "$WORLD_DIR"
  rm -f "$ready"
  # Its own process group: Ctrl-C reaches only this script, which stops the world in order.
  NODE_PATH="$ROOT/node_modules" setsid node "$WORLD_JS" start --dir "$WORLD_DIR" --store "$store" --ready-file "$ready" \
    --watch-pid $$ >"$WORLD_LOG" 2>&1 &
  WORLD_PID=$!
  local deadline=$((SECONDS + timeout))
  until [ -f "$ready" ]; do
    check_parent
    if ! kill -0 "$WORLD_PID" 2>/dev/null; then
      tail -n 30 "$WORLD_LOG"
      say "the test world did not start (log: $WORLD_LOG)"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$WORLD_LOG"
      say "the test world was not ready after ${timeout} s (log: $WORLD_LOG)"
      return 1
    fi
    sleep 0.2
  done
  node -e 'for (const l of require(process.argv[1]).summary) console.log(l)' "$ready"
}
stop_test_world() {
  [ -n "$WORLD_PID" ] || return 0
  if kill -0 "$WORLD_PID" 2>/dev/null; then
    say "stopping the test world"
    kill -TERM "$WORLD_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$WORLD_PID" 2>/dev/null || break
      sleep 0.1
    done
  fi
  # If it could not stop them (killed, stuck): its sshd and PostgreSQL, found by their pid
  # files (PostgreSQL runs in a session of its own), then what is left of its process group.
  NODE_PATH="$ROOT/node_modules" node "$WORLD_JS" reap --dir "$WORLD_DIR" || true
  kill -KILL -- "-$WORLD_PID" 2>/dev/null || true
  WORLD_PID=""
}
# ---------------------------------------------------------------------------

# The process that started this one (npm, a terminal, an IDE) is gone: nobody can stop
# the sandbox any more, so it stops itself.
check_parent() {
  kill -0 "$PARENT_PID" 2>/dev/null && return 0
  say "the process that started the sandbox ($PARENT_PID) is gone"
  exit 129
}

cleanup() {
  local rc=$?
  # Clean-up runs to its end (a few seconds): a second Ctrl-C must not cut it short.
  trap '' INT TERM HUP
  trap - EXIT
  [ -z "$NAP_PID" ] || kill "$NAP_PID" 2>/dev/null || true
  stop_step
  if [ -n "$CS_PID" ] && kill -0 "$CS_PID" 2>/dev/null; then
    say "stopping code-server"
    kill -TERM -- "-$CS_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$CS_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$CS_PID" 2>/dev/null || true
  fi
  stop_test_world || true
  case "$rc" in
    0 | 129 | 130 | 143) say "stopped; nothing it started is running" ;;
    *) say "stopped after a failure (exit $rc); nothing it started is running" ;;
  esac
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

step bash scripts/ensure-deps.sh --debian

say "building the VSIX"
step --log "$SANDBOX/package.log" npm run --silent package || {
  cat "$SANDBOX/package.log"
  exit 1
}
version=$(node -p 'require("./package.json").version')
VSIX="$ROOT/infrakt-$version.vsix"

step --stdout "$SANDBOX/code-server-entry" bash scripts/install-code-server.sh
ENTRY=$(tail -n 1 "$SANDBOX/code-server-entry")

mkdir -p "$EXT_DIR" "$USER_DATA/User" "$WORKSPACE"
[ -f "$EXT_DIR/extensions.json" ] || echo '[]' >"$EXT_DIR/extensions.json"
# The profile persists between runs (servers you add stay); settings only once.
if [ ! -f "$USER_DATA/User/settings.json" ]; then
  cat >"$USER_DATA/User/settings.json" <<'JSON'
{
  "telemetry.telemetryLevel": "off",
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "git.openRepositoryInParentFolders": "never"
}
JSON
fi
step --log "$SANDBOX/install-extension.log" node "$ENTRY" --extensions-dir "$EXT_DIR" \
  --user-data-dir "$USER_DATA" --install-extension "$VSIX" --force ||
  {
    cat "$SANDBOX/install-extension.log"
    exit 1
  }

# 8080, or the next free port.
PORT=$(node -e '
const net = require("net");
const tryPort = (p) => {
  if (p > 65535) process.exit(1);
  const s = net.createServer().once("error", () => tryPort(p + 1));
  s.listen(p, "127.0.0.1", () => s.close(() => console.log(p)));
};
tryPort(Number(process.argv[1]));
' "${INFRAKT_SANDBOX_PORT:-8080}")

start_test_world

printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" >"$SANDBOX/code-server.yaml"
# Its own session/process group, so cleanup() also ends the extension hosts it forks.
setsid node "$ENTRY" --auth none --bind-addr "127.0.0.1:$PORT" \
  --config "$SANDBOX/code-server.yaml" \
  --extensions-dir "$EXT_DIR" --user-data-dir "$USER_DATA" \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  "$WORKSPACE" >"$SANDBOX/code-server.log" 2>&1 &
CS_PID=$!

if ! step node -e '
const http = require("http");
const [url, pid] = [process.argv[1], Number(process.argv[2])];
const deadline = Date.now() + 60000;
const poll = () => {
  try { process.kill(pid, 0); } catch { console.error("code-server exited"); process.exit(1); }
  http.get(url, (r) => { r.resume(); r.statusCode === 200 ? process.exit(0) : retry(); }).on("error", retry);
};
const retry = () => (Date.now() > deadline ? process.exit(1) : setTimeout(poll, 200));
poll();
' "http://127.0.0.1:$PORT/healthz" "$CS_PID"; then
  tail -n 30 "$SANDBOX/code-server.log"
  say "code-server did not start (log: $SANDBOX/code-server.log)"
  exit 1
fi

echo
echo "  infrakt $version is running in VS Code (code-server):"
echo
echo "    http://127.0.0.1:$PORT/?folder=$WORKSPACE"
echo
echo "  Open the Infrakt icon in the activity bar. Profile: $SANDBOX (kept between runs)."
echo "  Log: $SANDBOX/code-server.log. Press Ctrl-C to stop."
echo
wait_child "$CS_PID" || true
say "code-server exited"
