// A `docker` STAND-IN for container-mode tests. It is not Docker and does not
// isolate anything: `docker exec [-i] <container> cmd...` runs cmd on this
// machine with a clean environment made of the container's fixture env only;
// `docker ps --format ...` prints fixture rows. Tests put its dir first on PATH
// and say "via a docker stand-in" in their names.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface StandInContainer {
  name: string;
  image: string;
  env: Record<string, string>;
  /** Files in the container's HOME (e.g. `.my.cnf` pointing the client at the right socket). */
  home?: Record<string, string>;
}

export interface DockerStandIn {
  /** Directory holding the `docker` script: put it first on PATH. */
  binDir: string;
  /** PATH with the stand-in first. */
  path: string;
  /** Every argv the stand-in was called with, one JSON array per call. */
  calls(): string[][];
  remove(): void;
}

const SCRIPT = `#!/bin/bash
# docker STAND-IN for tests (not Docker): see test/world/dockerStandIn.ts
set -u
here=$(dirname "$(readlink -f "$0")")
printf '%s\\0' "$@" | base64 -w0 >> "$here/calls.log"; echo >> "$here/calls.log"
case "\${1:-}" in
  ps)
    cat "$here/ps.jsonl"; exit 0 ;;
  exec)
    shift
    while [ $# -gt 0 ]; do
      case "$1" in
        -i|--interactive|-t|--tty) shift ;;
        -*) echo "docker stand-in: unsupported exec option $1" >&2; exit 125 ;;
        *) break ;;
      esac
    done
    c=\${1:-}; shift
    envfile="$here/containers/$c.env"
    [ -f "$envfile" ] || { echo "Error response from daemon: No such container: $c" >&2; exit 1; }
    inner_path=$(printf '%s' "$PATH" | tr ':' '\\n' | grep -vxF "$here" | paste -sd:)
    exec env -i PATH="$inner_path" HOME="$here/homes/$c" bash -c 'set -a; . "$1"; set +a; shift; exec "$@"' _ "$envfile" "$@" ;;
  *)
    echo "docker stand-in: unsupported command: $*" >&2; exit 125 ;;
esac
`;

function shellAssign(k: string, v: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad env name ${k}`);
  return `${k}='${v.replace(/'/g, `'\\''`)}'`;
}

export function createDockerStandIn(containers: readonly StandInContainer[]): DockerStandIn {
  const binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-docker-standin-'));
  fs.mkdirSync(path.join(binDir, 'containers'));
  fs.writeFileSync(path.join(binDir, 'docker'), SCRIPT, {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(binDir, 'calls.log'), '');
  fs.writeFileSync(
    path.join(binDir, 'ps.jsonl'),
    containers
      .map((c) =>
        JSON.stringify({
          ID: c.name.slice(0, 12),
          Names: c.name,
          Image: c.image,
          State: 'running',
          Status: 'Up 2 hours',
        }),
      )
      .join('\n') + (containers.length ? '\n' : ''),
  );
  for (const c of containers) {
    const lines = Object.entries(c.env).map(([k, v]) => shellAssign(k, v));
    fs.writeFileSync(path.join(binDir, 'containers', `${c.name}.env`), `${lines.join('\n')}\n`);
    const home = path.join(binDir, 'homes', c.name);
    fs.mkdirSync(home, { recursive: true });
    for (const [rel, content] of Object.entries(c.home ?? {}))
      fs.writeFileSync(path.join(home, rel), content);
  }
  return {
    binDir,
    path: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    calls: () =>
      fs
        .readFileSync(path.join(binDir, 'calls.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => Buffer.from(l, 'base64').toString('utf8').split('\0').slice(0, -1)),
    remove: () => fs.rmSync(binDir, { recursive: true, force: true }),
  };
}
