// Discover Databases' script (discover.sh) run under bash, dash and busybox ash
// with only the tools the test chooses on PATH: stub database clients, a docker
// stand-in, and a real TCP port listening in this process.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { discoverScript, parseDiscovery } from '../../src/core/backup';
import { SH } from '../../src/core/remote/modules';
import { MARKS, markValues } from '../../src/core/remote/protocol';
import { remoteScript } from '../../src/core/remote/script';
import { SHELLS, makeBin, runShell, toolPath } from '../support/stubBin';
import { type DockerStandIn, createDockerStandIn } from '../world/dockerStandIn';

/** What the module itself runs, and what the docker stand-in needs. */
const REAL = ['awk', 'sed', 'head', 'grep', 'cat', 'dirname', 'readlink', 'base64', 'tr', 'paste'];

describe('Discover Databases: the script, run with stub tools (bash, dash, busybox ash)', function () {
  this.timeout(30_000);
  let work: string;
  let base: string;
  let clients: string;
  let docker: DockerStandIn;
  let listening: net.Server;
  let port: number;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-discover-'));
    base = makeBin(path.join(work, 'base'), { real: REAL });
    clients = makeBin(path.join(work, 'clients'), {
      stubs: { pg_dump: 'exit 0', mysqldump: 'exit 0', 'redis-cli': 'exit 0' },
    });
    docker = createDockerStandIn([
      { name: 'infrakt-db-shop', image: 'postgres:16', env: {} },
      { name: 'cache', image: 'bitnami/redis:7.2', env: {} },
      { name: 'web', image: 'nginx:1.27', env: {} },
    ]);
    listening = net.createServer();
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    port = (listening.address() as net.AddressInfo).port;
  });
  after(() => {
    listening?.close();
    docker?.remove();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** The module with chosen ports (a port listening here, and one closed) and no tools. */
  const portsScript = () =>
    remoteScript({
      vars: { infrakt_discover_tools: [], infrakt_discover_ports: [String(port), '1'] },
      modules: [SH.discover],
      call: 'infrakt_discover',
    });

  for (const [label, shell] of SHELLS) {
    describe(label, () => {
      it("finds the registry's client tools on PATH, and the database containers via a docker stand-in", () => {
        const r = runShell(shell, discoverScript(), { PATH: [docker.binDir, clients, base].join(':') });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(markValues(r.stdout, MARKS.tool).sort(), [
          `mysqldump ${path.join(clients, 'mysqldump')}`,
          `pg_dump ${path.join(clients, 'pg_dump')}`,
          `redis-cli ${path.join(clients, 'redis-cli')}`,
        ]);
        const d = parseDiscovery(r.stdout);
        assert.equal(d.docker, 'ok');
        assert.deepEqual(
          d.containers.map((c) => [c.container, c.engine, c.state]),
          [
            ['infrakt-db-shop', 'postgres', 'running'],
            ['cache', 'redis', 'running'],
          ],
        );
        const tools = Object.fromEntries(d.hostServices.map((s) => [s.engine, s.tools]));
        assert.deepEqual(tools.postgres, ['pg_dump']);
        assert.deepEqual(tools.mysql, ['mysqldump']);
        assert.deepEqual(tools.redis, ['redis-cli']);
      });

      it('docker missing, or failing with its first line', () => {
        const missing = runShell(shell, discoverScript(), { PATH: base });
        assert.equal(missing.code, 0, missing.stderr);
        assert.equal(parseDiscovery(missing.stdout).docker, 'missing');
        const broken = makeBin(path.join(work, `broken-${label.replace(/\W/g, '')}`), {
          stubs: {
            docker:
              "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\necho second >&2\nexit 1",
          },
        });
        const r = runShell(shell, discoverScript(), { PATH: [broken, base].join(':') });
        assert.equal(r.code, 0, r.stderr);
        const d = parseDiscovery(r.stdout);
        assert.equal(d.docker, 'error');
        assert.equal(
          d.dockerError,
          'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?',
        );
        assert.deepEqual(d.containers, []);
      });

      it('a listening port is found with ss, and from /proc/net/tcp without ss; a closed one is not', () => {
        const withoutSs = runShell(shell, portsScript(), { PATH: base });
        assert.equal(withoutSs.code, 0, withoutSs.stderr);
        assert.deepEqual(markValues(withoutSs.stdout, MARKS.listen), [String(port)]);
        if (!toolPath('ss')) {
          console.log('    (ss is not installed here: only the /proc path ran)');
          return;
        }
        const ss = makeBin(path.join(work, `ss-${label.replace(/\W/g, '')}`), { real: ['ss'] });
        const withSs = runShell(shell, portsScript(), { PATH: [ss, base].join(':') });
        assert.equal(withSs.code, 0, withSs.stderr);
        assert.deepEqual(markValues(withSs.stdout, MARKS.listen), [String(port)]);
      });
    });
  }
});
