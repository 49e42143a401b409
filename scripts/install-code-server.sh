#!/usr/bin/env bash
# Installs code-server (real VS Code, web UI + Node extension host) once into a
# tool cache outside the project's npm dependency tree, so `npm ci` stays small.
#
#   bash scripts/install-code-server.sh        # prints the code-server entry path (last line of stdout)
#
# A second run is instant. Progress goes to stderr; the install log is kept
# beside the install (install.log).
#   INFRAKT_TOOLS   tool cache (default ~/.cache/infrakt-tools)
set -euo pipefail

VERSION=4.100.3
REQUIRED_NODE_MAJOR=20 # code-server 4.100.3 builds its native modules for Node 20 and refuses others
RIPGREP_PKG_VERSION=1.15.11 # @vscode/ripgrep pinned by code-server 4.100.3
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

TOOLS="${INFRAKT_TOOLS:-$HOME/.cache/infrakt-tools}"
DIR="$TOOLS/code-server-$VERSION"
ENTRY="$DIR/node_modules/code-server/out/node/entry.js"
MARKER="$DIR/.installed"

say() { echo "install-code-server: $*" >&2; }

if [ -f "$MARKER" ] && [ -f "$ENTRY" ]; then
  echo "$ENTRY"
  exit 0
fi

mkdir -p "$TOOLS"
# One installer at a time (the sandbox and the tests may start together).
exec 9>"$DIR.lock"
flock 9
if [ -f "$MARKER" ] && [ -f "$ENTRY" ]; then
  echo "$ENTRY"
  exit 0
fi

started=$SECONDS
step() { say "[$((SECONDS - started)) s] $*"; }

# What an `npm install` (process group $1) is doing now, from the commands it runs.
install_activity() {
  local pid pgid cmd cwd gyp="" npm_in="" fetch=""
  while read -r pid pgid cmd; do
    [ "$pgid" = "$1" ] || continue
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
    case "$cmd" in
      *node-gyp* | *make* | *cc1plus* | *g++*) [ -n "$gyp" ] || gyp=${cwd##*/node_modules/} ;;
      *npm\ install* | *npm\ ci* | *npm-cli.js\ install*)
        case "$cwd" in
          */lib/vscode/extensions) npm_in="VS Code's built-in extensions' dependencies" ;;
          */lib/vscode) [ -n "$npm_in" ] || npm_in="VS Code's dependencies (lib/vscode)" ;;
          *) fetch=1 ;;
        esac
        ;;
    esac
  done < <(ps -eo pid=,pgid=,args=)
  if [ -n "$gyp" ]; then
    echo "compiling a native module (node-gyp, in ${gyp%%/build*})"
  elif [ -n "$npm_in" ]; then
    echo "code-server's postinstall: installing $npm_in"
  elif [ -n "$fetch" ]; then
    echo "fetching code-server and its dependencies"
  fi
}

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" != "$REQUIRED_NODE_MAJOR" ]; then
  say "code-server $VERSION needs Node.js ${REQUIRED_NODE_MAJOR}.x (this is $(node -v))"
  exit 1
fi
for tool in rg make g++ python3; do
  command -v "$tool" >/dev/null || {
    say "missing '$tool' (Debian: apt-get install ripgrep make g++ python3 libkrb5-dev, or run: bash scripts/ensure-deps.sh --debian)"
    exit 1
  }
done
[ -f /usr/include/krb5.h ] || [ -f /usr/include/krb5/krb5.h ] || {
  say "missing Kerberos headers (Debian: apt-get install libkrb5-dev)"
  exit 1
}

say "installing code-server $VERSION into $DIR — once; 1 to 3 minutes (npm fetches it, then compiles native modules); each step below with the time since the start"
rm -rf "$DIR"
mkdir -p "$DIR/tmp"

# @vscode/ripgrep downloads rg from GitHub at install time; this machine has no
# route there. Its postinstall uses a cache in os.tmpdir(): seed it with Debian's rg.
export TMPDIR="$DIR/tmp"
rg_cache="$TMPDIR/vscode-ripgrep-cache-$RIPGREP_PKG_VERSION"
mkdir -p "$rg_cache" "$TMPDIR/rg"
cp "$(command -v rg)" "$TMPDIR/rg/rg"
tar czf "$rg_cache/$RIPGREP_ASSET" -C "$TMPDIR/rg" rg

# code-server's postinstall runs `npm install` in lib/vscode and lib/vscode/extensions:
# - as root it insists on npm_config_unsafe_perm=true (npm 11 no longer knows the
#   setting and warns about it, but the script reads the variable);
# - node-pty's postinstall runs `npx node-gyp`, which must not stop to ask (yes);
# - node-gyp needs Node's headers; use the installed ones instead of downloading them.
export npm_config_unsafe_perm=true npm_config_yes=true
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then
  export npm_config_nodedir=/usr
fi

# npm 11 asks for install scripts to be approved: this private package approves
# the two top-level packages that have them (code-server's postinstall, argon2's
# native build). The nested installs run by code-server's postinstall have no
# policy of their own; they run with a notice, and the checks below make sure
# every native part they build is there.
cat >"$DIR/package.json" <<JSON
{
  "name": "infrakt-code-server-tool",
  "private": true,
  "description": "code-server for infrakt's UI tests and sandbox (scripts/install-code-server.sh)",
  "dependencies": { "code-server": "$VERSION" },
  "allowScripts": { "code-server": true, "argon2": true }
}
JSON

# npm runs in a process group of its own (a background job would ignore Ctrl-C), which
# the traps stop with this script. Meanwhile its descendants tell what it is doing.
NPM_PID=""
stop_npm() { [ -z "$NPM_PID" ] || kill -TERM -- "-$NPM_PID" 2>/dev/null || true; }
trap stop_npm EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
(cd "$DIR" && exec setsid npm install --no-audit --no-fund --loglevel=warn >"$DIR/install.log" 2>&1) &
NPM_PID=$!
step "npm install: fetching code-server and its dependencies"
last_step="fetching code-server and its dependencies" last_said=$SECONDS
while kill -0 "$NPM_PID" 2>/dev/null; do
  now_doing=$(install_activity "$NPM_PID")
  if [ -n "$now_doing" ] && { [ "$now_doing" != "$last_step" ] || [ $((SECONDS - last_said)) -ge 20 ]; }; then
    step "npm install: $now_doing"
    last_step=$now_doing last_said=$SECONDS
  fi
  sleep 1
done
if ! wait "$NPM_PID"; then
  NPM_PID=""
  { grep -v 'Unknown .* config' "$DIR/install.log" || true; } | tail -40 >&2
  say "npm install failed; full log: $DIR/install.log"
  exit 1
fi
NPM_PID=""
step "npm install done; checking the native modules it built"

vscode="$DIR/node_modules/code-server/lib/vscode"
missing=()
for f in \
  "$vscode/node_modules/@vscode/ripgrep/bin/rg" \
  "$vscode/node_modules/node-pty/build/Release/pty.node" \
  "$vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" \
  "$vscode/node_modules.asar" \
  "$vscode/extensions/node_modules" \
  "$DIR/node_modules/argon2/lib/binding/napi-v3/argon2.node"; do
  [ -e "$f" ] || missing+=("$f")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "install scripts did not produce: ${missing[*]}"
  say "(were install scripts blocked? see $DIR/install.log)"
  exit 1
fi

# It must really start: serve on a free port until /healthz answers.
step "starting code-server once to check it serves"
if ! node - "$ENTRY" "$TMPDIR/smoke" >"$TMPDIR/smoke.log" 2>&1 <<'JS'; then
const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const [entry, ud] = process.argv.slice(2);
const srv = net.createServer().listen(0, '127.0.0.1', () => {
  const port = srv.address().port;
  srv.close(() => {
    const cs = spawn(process.execPath, [entry, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
      '--user-data-dir', ud, '--extensions-dir', `${ud}/ext`, '--disable-telemetry', '--disable-update-check'],
      { stdio: 'inherit' });
    const deadline = Date.now() + 30000;
    const done = (code) => { cs.kill(); process.exitCode = code; };
    cs.on('exit', (c) => { if (process.exitCode === undefined) { console.error(`code-server exited (${c})`); process.exitCode = 1; } });
    const poll = () => http.get(`http://127.0.0.1:${port}/healthz`, (res) => {
      res.resume();
      if (res.statusCode === 200) done(0); else retry();
    }).on('error', retry);
    const retry = () => (Date.now() > deadline ? done(1) : setTimeout(poll, 200));
    poll();
  });
});
JS
  cat "$TMPDIR/smoke.log" >&2
  say "code-server did not start"
  exit 1
fi

rm -rf "$TMPDIR"
echo "$VERSION $(date -u +%FT%TZ)" >"$MARKER"
say "code-server $VERSION installed and started in $((SECONDS - started)) s"
echo "$ENTRY"
