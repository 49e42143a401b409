// The sandbox's test world (`npm run sandbox`): a real sshd, s3rver with a bucket and a
// PostgreSQL cluster with a small `shop` database, all on 127.0.0.1, all kept in one
// directory (.tmp/sandbox/world) so keys, objects and data survive restarts.
//
//   startSandboxWorld({ dir })   starts the three parts (a UI test can reuse it in-process)
//   reapLeftovers(dir)           stops an sshd or PostgreSQL a killed world process left running
//
// sandboxSeed.ts seeds the extension's store for it; sandboxMain.ts is the program.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { sha256Fingerprint } from '../../src/ssh/connectionPool';
import { endSshSessions, processArgs, readPid, alive, waitGone } from './processes';
import { startPostgres, freePort, type Postgres } from './databases';
import { S3RVER_KEY, startS3 } from './s3';
import { startSshServer, type SshServer } from './sshServer';

export const SANDBOX_SERVER_NAME = 'sandbox';
export const SANDBOX_DATABASE_NAME = 'shop';
export const SANDBOX_BUCKET = 'infrakt-sandbox';
/** s3rver accepts any secret (it does not verify signatures); this is its documented default. */
export const SANDBOX_S3_SECRET = 'S3RVER';
const PG_PASSWORD = 'sandbox'; // the superuser's password; loopback connections need none (trust)

export interface SandboxWorldOptions {
  /** The world's directory (created if missing; keys, S3 objects and PostgreSQL data are kept there). */
  dir: string;
  bucket?: string;
  /** Reuse the ports of the previous run when they are free (default true): the profile stays valid. */
  reusePorts?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface SandboxWorld {
  dir: string;
  /** The account sshd lets in with the key (the current user). */
  user: string;
  ssh: {
    host: '127.0.0.1';
    port: number;
    /** Private key (ed25519, no passphrase) the extension uses. */
    keyPath: string;
    hostKeyType: string;
    /** "SHA256:<base64>" as the extension computes it. */
    hostKeyFingerprint: string;
    dir: string;
  };
  s3: {
    endpointUrl: string;
    port: number;
    bucket: string;
    region: 'us-east-1';
    accessKey: string;
    secretKey: string;
    directory: string;
    /** Stops s3rver (an outage), and starts it again on the same port with the same data. */
    stop(): Promise<void>;
    restart(): Promise<void>;
  };
  postgres: {
    host: '127.0.0.1';
    port: number;
    /** Superuser; connections to 127.0.0.1 need no password. */
    user: string;
    database: string;
    dir: string;
    /** Runs SQL with psql (tuples only) and returns stdout. */
    sql(sql: string, db?: string): string;
  };
  /** The server's backup directory (the extension creates it on the first backup or Provision). */
  backupDir: string;
  /** Stops sshd (and its sessions), s3rver and PostgreSQL. Idempotent. */
  stop(): Promise<void>;
}

interface Ports {
  ssh?: number;
  s3?: number;
  pg?: number;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function pickPort(previous: number | undefined): Promise<number> {
  if (previous && (await portIsFree(previous))) return previous;
  return freePort();
}

/** Key type and fingerprint of an OpenSSH public key file, computed as the extension does. */
export function publicKeyFingerprint(pubFile: string): { keyType: string; fingerprint: string } {
  const [, base64] = fs.readFileSync(pubFile, 'utf8').trim().split(/\s+/);
  const blob = Buffer.from(base64, 'base64');
  const len = blob.readUInt32BE(0);
  return { keyType: blob.subarray(4, 4 + len).toString('ascii'), fingerprint: sha256Fingerprint(blob) };
}

const SHOP_SQL = `
CREATE TABLE products (
  id serial PRIMARY KEY,
  name text NOT NULL,
  price numeric(8, 2) NOT NULL,
  stock integer NOT NULL DEFAULT 0
);
INSERT INTO products (name, price, stock) VALUES
  ('Espresso beans 1 kg', 18.50, 40),
  ('Pour-over kettle', 39.00, 12),
  ('Ceramic mug', 9.90, 120),
  ('Paper filters (100)', 4.20, 300),
  ('Hand grinder', 64.00, 7);
CREATE TABLE orders (
  id serial PRIMARY KEY,
  product_id integer NOT NULL REFERENCES products (id),
  quantity integer NOT NULL,
  ordered_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orders (product_id, quantity) VALUES (1, 2), (3, 4), (5, 1);
`;

/** Starts sshd, s3rver and PostgreSQL in `opts.dir`; on any failure stops what did start, then throws. */
export async function startSandboxWorld(opts: SandboxWorldOptions): Promise<SandboxWorld> {
  const log = opts.log ?? (() => undefined);
  const dir = path.resolve(opts.dir);
  const bucket = opts.bucket ?? SANDBOX_BUCKET;
  fs.mkdirSync(dir, { recursive: true });
  // One world per dir: a live owner with live servers is another sandbox; a dead one left them.
  const ownerFile = path.join(dir, 'owner.pid');
  const owner = readPid(ownerFile);
  if (owner && owner !== process.pid && alive(owner) && runningServers(dir).length > 0) {
    throw new Error(`the sandbox world in ${dir} is already running (process ${owner}); stop that one first`);
  }
  reapLeftovers(dir, log);
  fs.writeFileSync(ownerFile, `${process.pid}\n`);
  const pgDir = postgresDir(dir, log);
  const portsFile = path.join(dir, 'ports.json');
  let previous: Ports = {};
  if (opts.reusePorts !== false) {
    try {
      previous = JSON.parse(fs.readFileSync(portsFile, 'utf8')) as Ports;
    } catch {
      previous = {};
    }
  }
  const sshPort = await pickPort(previous.ssh);
  let s3Port = await pickPort(previous.s3);
  if (s3Port === sshPort) s3Port = await freePort();
  let pgPort = await pickPort(previous.pg);
  while (pgPort === sshPort || pgPort === s3Port) pgPort = await freePort();

  const started = await Promise.allSettled([
    startSshServer({ dir: path.join(dir, 'ssh'), port: sshPort }),
    startS3(bucket, { directory: path.join(dir, 's3'), port: s3Port }),
    startPostgres(PG_PASSWORD, { dir: pgDir, port: pgPort, trustLoopback: true }),
  ]);
  const [sshR, s3R, pgR] = started;
  const sshd = sshR.status === 'fulfilled' ? sshR.value : undefined;
  const s3 = s3R.status === 'fulfilled' ? s3R.value : undefined;
  const pg = pgR.status === 'fulfilled' ? pgR.value : undefined;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    if (sshd) {
      await attempt('ssh sessions', () => endSessions(sshd));
      await attempt('sshd', () => sshd.stop());
    }
    if (s3) await attempt('s3rver', () => s3.stop());
    if (pg) await attempt('postgres', () => pg.stop());
    if (readPid(ownerFile) === process.pid) fs.rmSync(ownerFile, { force: true });
    log('world: stopped');
    if (errors.length > 0) throw new Error(`stopping the sandbox world: ${errors.join('; ')}`);
  };

  try {
    const failures = started.flatMap((r, i) =>
      r.status === 'rejected'
        ? [
            `${['sshd', 's3rver', 'PostgreSQL'][i]}: ${r.reason instanceof Error ? r.reason.message : r.reason}`,
          ]
        : [],
    );
    if (failures.length > 0 || !sshd || !s3 || !pg) {
      throw new Error(`the sandbox world did not start — ${failures.join('; ')}`);
    }
    ensureShop(pg);
    fs.writeFileSync(portsFile, JSON.stringify({ ssh: sshd.port, s3: s3.port, pg: pg.port }) + '\n');
    const host = publicKeyFingerprint(path.join(sshd.dir, 'host_ed25519.pub'));
    return {
      dir,
      user: os.userInfo().username,
      ssh: {
        host: '127.0.0.1',
        port: sshd.port,
        keyPath: sshd.clientKeyPath,
        hostKeyType: host.keyType,
        hostKeyFingerprint: host.fingerprint,
        dir: sshd.dir,
      },
      s3: {
        endpointUrl: s3.endpointUrl,
        port: s3.port,
        bucket: s3.bucket,
        region: 'us-east-1',
        accessKey: S3RVER_KEY,
        secretKey: SANDBOX_S3_SECRET,
        directory: s3.directory,
        stop: () => s3.stop(),
        restart: () => s3.restart(),
      },
      postgres: {
        host: '127.0.0.1',
        port: pg.port,
        user: pg.user,
        database: SANDBOX_DATABASE_NAME,
        dir: pg.dir,
        sql: (q, db) => pg.sql(q, db),
      },
      backupDir: path.join(dir, 'backups'),
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

function outsidePostgresDir(dir: string): string {
  const hash = createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 12);
  return path.join('/var/tmp', `infrakt-sandbox-pg-${hash}`);
}

/**
 * Where the cluster lives: <dir>/pg. As root, PostgreSQL runs as its own account, which must
 * reach that folder: the world dir is made traversable (0711 at least); when a parent is
 * closed to it (a checkout under /root), the cluster goes to /var/tmp/infrakt-sandbox-<hash>.
 */
function postgresDir(dir: string, log: (line: string) => void): string {
  const inside = path.join(dir, 'pg');
  if (process.getuid?.() !== 0) return inside;
  fs.chmodSync(dir, (fs.statSync(dir).mode & 0o7777) | 0o711);
  try {
    execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-x', dir], { stdio: 'ignore' });
    return inside;
  } catch {
    const outside = outsidePostgresDir(dir);
    log(`world: the postgres account cannot reach ${dir}; PostgreSQL's data goes to ${outside}`);
    return outside;
  }
}

/** Creates the sample database on the first run; later runs keep whatever the user did to it. */
function ensureShop(pg: Postgres): void {
  const exists = pg.sql(`SELECT 1 FROM pg_database WHERE datname = '${SANDBOX_DATABASE_NAME}'`).trim();
  if (exists === '1') return;
  pg.createDatabase(SANDBOX_DATABASE_NAME);
  pg.sql(SHOP_SQL, SANDBOX_DATABASE_NAME);
}

function endSessions(sshd: SshServer): void {
  const pid = readPid(path.join(sshd.dir, 'sshd.pid'));
  if (pid) endSshSessions(pid);
}

interface RunningServer {
  what: 'sshd' | 'PostgreSQL';
  pid: number;
}

/** The sshd and PostgreSQL of this world dir that are running, found by their pid files and checked. */
function runningServers(dir: string): RunningServer[] {
  const root = path.resolve(dir);
  const found: RunningServer[] = [];
  const sshdPid = readPid(path.join(root, 'ssh', 'sshd.pid'));
  if (sshdPid && alive(sshdPid) && processArgs(sshdPid).includes(path.join(root, 'ssh', 'sshd_config'))) {
    found.push({ what: 'sshd', pid: sshdPid });
  }
  for (const pgDir of [path.join(root, 'pg'), outsidePostgresDir(root)]) {
    const data = path.join(pgDir, 'data');
    const pgPid = readPid(path.join(data, 'postmaster.pid'));
    if (!pgPid || !alive(pgPid)) continue;
    let cwd = '';
    try {
      cwd = fs.readlinkSync(`/proc/${pgPid}/cwd`);
    } catch {
      cwd = '';
    }
    if (cwd === data) found.push({ what: 'PostgreSQL', pid: pgPid });
  }
  return found;
}

/**
 * Stops an sshd or a PostgreSQL of this world dir that a killed world process left running
 * (PostgreSQL runs in a session of its own and outlives its parent's process group).
 * Each is identified by its pid file and checked (command line / working directory) first.
 */
export function reapLeftovers(dir: string, log: (line: string) => void = () => undefined): void {
  for (const { what, pid } of runningServers(dir)) {
    log(`world: stopping a leftover ${what} (pid ${pid})`);
    if (what === 'sshd') {
      endSshSessions(pid);
      process.kill(pid, 'SIGTERM');
      if (!waitGone(pid, 5000)) process.kill(pid, 'SIGKILL');
    } else {
      // Its socket dir is a temp dir of startPostgres that only its stop() removes.
      const args = fs.existsSync(`/proc/${pid}/cmdline`)
        ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
        : [];
      const k = args.indexOf('-k');
      const socketDir = k >= 0 ? args[k + 1] : undefined;
      process.kill(pid, 'SIGINT'); // fast shutdown
      if (!waitGone(pid, 30_000)) process.kill(pid, 'SIGQUIT');
      if (socketDir && path.basename(socketDir).startsWith('infrakt-pgsock-') && waitGone(pid, 5000)) {
        fs.rmSync(socketDir, { recursive: true, force: true });
      }
    }
  }
}
