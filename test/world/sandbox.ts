// The sandbox's test world (`npm run sandbox`): a real sshd, s3rver
// with a bucket and a PostgreSQL cluster with a small `shop` database, all on
// 127.0.0.1, all kept in one directory (.tmp/sandbox/world) so keys, objects
// and data survive restarts; and the seeding of the extension's store so a
// newcomer finds a server, its database and the S3 settings already there.
//
//   startSandboxWorld({ dir })   starts the three parts (a UI test can reuse it in-process)
//   seedStore(file, world)       adds or updates the sandbox's rows in a store file
//
// As a program (scripts/sandbox.sh runs it in its own process group):
//   node sandbox.js start --dir <world dir> --store <infrakt.sqlite> [--ready-file <f>] [--watch-pid <pid>]
//     starts, seeds, prints what it started, writes <f> (JSON, with `summary` lines) when
//     everything listens and the store is seeded; SIGTERM/SIGINT (or <pid> exiting) stops it all.
//   node sandbox.js reap --dir <world dir>
//     stops an sshd or PostgreSQL of that dir left running by a killed world process.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { DatabaseInput, S3SettingsFields, ServerInput } from '../../src/core/model';
import { ConfigStore } from '../../src/store/configStore';
import { sha256Fingerprint } from '../../src/ssh/connectionPool';
import { WASM_PATH } from '../support/paths';
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

interface Proc {
  pid: number;
  ppid: number;
  sid: number;
}

function processTable(): Proc[] {
  const procs: Proc[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp session ...; comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid: Number(name), ppid: Number(fields[1]), sid: Number(fields[3]) });
    } catch {
      // gone meanwhile
    }
  }
  return procs;
}

/**
 * Ends every session of an sshd listener: each connection's monitor process and whatever its
 * commands started. sshd puts each connection, and each command, in a session of its own, and
 * a command without a terminal outlives its connection — so a backup started in the sandbox
 * would keep running after Ctrl-C. The listener itself is left to its own stop.
 */
export function endSshSessions(listenerPid: number): void {
  const table = processTable();
  const listener = table.find((p) => p.pid === listenerPid);
  if (!listener) return;
  const descendants = new Set<number>();
  const queue = [listenerPid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const p of table) {
      if (p.ppid === parent && !descendants.has(p.pid)) {
        descendants.add(p.pid);
        queue.push(p.pid);
      }
    }
  }
  const sessions = new Set(
    table.filter((p) => descendants.has(p.pid) && p.sid !== listener.sid).map((p) => p.sid),
  );
  const targets = table.filter((p) => descendants.has(p.pid) || sessions.has(p.sid)).map((p) => p.pid);
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of targets) signal(pid, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (targets.some(alive) && Date.now() < deadline) execFileSync('sleep', ['0.1']);
  for (const pid of targets.filter(alive)) signal(pid, 'SIGKILL');
}

function endSessions(sshd: SshServer): void {
  const pid = readPid(path.join(sshd.dir, 'sshd.pid'));
  if (pid) endSshSessions(pid);
}

function processArgs(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function waitGone(pid: number, ms: number): boolean {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) execFileSync('sleep', ['0.1']);
  return !alive(pid);
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

export interface SeedResult {
  serverId: string;
  databaseId: string;
  /** What changed, one line each ("server sandbox: added", ...). */
  changes: string[];
  /** The store file was unreadable and moved aside (a fresh one was created). */
  movedAside?: string;
}

/**
 * Seeds the extension's store through its own store code: the "sandbox" server (trusted
 * host key), its host-mode PostgreSQL database "shop", and the S3 settings. Existing rows
 * of the sandbox are updated (ports change between runs); rows the user added are kept,
 * and S3 settings that point somewhere else than a local s3rver are left alone.
 */
export async function seedStore(
  file: string,
  world: SandboxWorld,
  opts: { wasmPath?: string } = {},
): Promise<SeedResult> {
  const { store, movedAside } = await ConfigStore.open(file, { wasmPath: opts.wasmPath ?? WASM_PATH });
  const changes: string[] = [];
  try {
    const serverInput: ServerInput = {
      name: SANDBOX_SERVER_NAME,
      host: world.ssh.host,
      port: world.ssh.port,
      user: world.user,
      auth: 'key',
      keyPath: world.ssh.keyPath,
      backupDir: world.backupDir,
    };
    const existing = store
      .listServers()
      .find((s) => s.name.toLowerCase() === SANDBOX_SERVER_NAME.toLowerCase());
    let server;
    try {
      if (!existing) {
        server = store.addServer(serverInput);
        changes.push(`server ${SANDBOX_SERVER_NAME}: added`);
      } else if (
        existing.host !== serverInput.host ||
        existing.port !== serverInput.port ||
        existing.user !== serverInput.user ||
        existing.auth !== 'key' ||
        existing.keyPath !== serverInput.keyPath ||
        existing.backupDir !== serverInput.backupDir
      ) {
        server = store.updateServer(existing.id, serverInput);
        changes.push(`server ${SANDBOX_SERVER_NAME}: updated (port ${existing.port} → ${server.port})`);
      } else {
        server = existing;
      }
    } catch (err) {
      throw new Error(
        `cannot store the sandbox server (backup dir ${world.backupDir}): ${err instanceof Error ? err.message : String(err)}`,
      );
    }

    // The host key: trusted on the new port; the row of an old port goes when it was this sshd's.
    const known = store.getKnownHost(world.ssh.host, world.ssh.port);
    if (known?.fingerprint !== world.ssh.hostKeyFingerprint || known.keyType !== world.ssh.hostKeyType) {
      store.trustHost({
        host: world.ssh.host,
        port: world.ssh.port,
        keyType: world.ssh.hostKeyType,
        fingerprint: world.ssh.hostKeyFingerprint,
      });
      changes.push(`host key of 127.0.0.1:${world.ssh.port}: trusted (${world.ssh.hostKeyFingerprint})`);
    }
    if (existing && existing.host === world.ssh.host && existing.port !== world.ssh.port) {
      const old = store.getKnownHost(existing.host, existing.port);
      if (old && old.fingerprint === world.ssh.hostKeyFingerprint)
        store.forgetHost(existing.host, existing.port);
    }

    // The database. The store has no update for databases: a changed one is removed and added
    // again under the same name (its backup files are found by name; its history rows stay behind).
    const dbInput: DatabaseInput = {
      serverId: server.id,
      name: SANDBOX_DATABASE_NAME,
      engine: 'postgres',
      mode: 'host',
      dbHost: world.postgres.host,
      dbPort: world.postgres.port,
      dbUser: world.postgres.user,
      dbName: world.postgres.database,
    };
    const oldDb = store.listDatabases(server.id).find((d) => d.name === SANDBOX_DATABASE_NAME);
    let database;
    if (!oldDb) {
      database = store.addDatabase(dbInput);
      changes.push(`database ${SANDBOX_DATABASE_NAME}: added`);
    } else if (
      oldDb.engine !== 'postgres' ||
      oldDb.mode !== 'host' ||
      oldDb.dbHost !== dbInput.dbHost ||
      oldDb.dbPort !== dbInput.dbPort ||
      oldDb.dbUser !== dbInput.dbUser ||
      oldDb.dbName !== dbInput.dbName
    ) {
      store.removeDatabase(oldDb.id);
      database = store.addDatabase(dbInput);
      changes.push(
        `database ${SANDBOX_DATABASE_NAME}: updated (port ${oldDb.dbPort ?? '-'} → ${database.dbPort})`,
      );
    } else {
      database = oldDb;
    }

    // S3 settings: a single row. Replace it only when it is missing or is a local s3rver's.
    const s3Fields: S3SettingsFields = {
      endpointUrl: world.s3.endpointUrl,
      bucket: world.s3.bucket,
      region: world.s3.region,
      accessKey: world.s3.accessKey,
      prefix: '',
      provider: 'other',
      pathStyle: true,
      checksumWhenRequired: true,
    };
    const s3 = store.getS3Settings();
    const isSandboxS3 = (u: string) => /^http:\/\/127\.0\.0\.1:\d+$/.test(u);
    if (!s3) {
      store.saveS3Settings(s3Fields);
      changes.push(`S3 settings: added (${s3Fields.endpointUrl}, bucket ${s3Fields.bucket})`);
    } else if (isSandboxS3(s3.endpointUrl) && s3.bucket === world.s3.bucket) {
      const same = (Object.keys(s3Fields) as (keyof S3SettingsFields)[]).every((k) => s3[k] === s3Fields[k]);
      if (!same) {
        store.saveS3Settings(s3Fields);
        changes.push(`S3 settings: updated (${s3.endpointUrl} → ${s3Fields.endpointUrl})`);
      }
    } else {
      changes.push(
        `S3 settings: kept yours (${s3.endpointUrl}, bucket ${s3.bucket}); the sandbox's s3rver is unused`,
      );
    }
    return { serverId: server.id, databaseId: database.id, changes, movedAside: movedAside?.path };
  } finally {
    store.dispose();
  }
}

// ---- the program -----------------------------------------------------------

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function summaryOf(world: SandboxWorld, storeFile: string, seed: SeedResult): string[] {
  return [
    `  sshd        127.0.0.1:${world.ssh.port}   user ${world.user}, key ${world.ssh.keyPath}`,
    `  s3rver      ${world.s3.endpointUrl}   bucket ${world.s3.bucket}, access key ${world.s3.accessKey}`,
    `  PostgreSQL  127.0.0.1:${world.postgres.port}   user ${world.postgres.user} (no password on 127.0.0.1), database ${world.postgres.database}`,
    `  store       ${storeFile}`,
    ...(seed.movedAside ? [`              an unreadable store was moved aside to ${seed.movedAside}`] : []),
    ...(seed.changes.length > 0 ? seed.changes : ['rows up to date']).map((c) => `              ${c}`),
    '',
    `  S3 secret key: ${world.s3.secretKey} — paste it once in Infrakt: Open S3 Settings`,
  ];
}

async function mainStart(args: string[]): Promise<void> {
  const dir = argValue(args, '--dir');
  const storeFile = argValue(args, '--store');
  if (!dir || !storeFile)
    throw new Error('usage: sandbox.js start --dir <dir> --store <file> [--ready-file <file>]');
  const readyFile = argValue(args, '--ready-file');
  const watchPid = Number(argValue(args, '--watch-pid') ?? 0);
  const log = (line: string) => console.log(line);

  // Signals before the world is up only mark it: it stops as soon as start returns.
  const state: { world?: SandboxWorld; pending?: string; stopping?: boolean; watchdog?: NodeJS.Timeout } = {};
  const shutdown = (why: string) => {
    if (!state.world) {
      state.pending ??= why;
      return;
    }
    if (state.stopping) return;
    state.stopping = true;
    log(`world: ${why}, stopping`);
    if (state.watchdog) clearInterval(state.watchdog);
    if (readyFile) fs.rmSync(readyFile, { force: true });
    state.world.stop().then(
      () => process.exit(),
      (err) => {
        console.error(err instanceof Error ? err.message : String(err));
        process.exit(1);
      },
    );
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => shutdown(sig));
  if (watchPid > 0) {
    state.watchdog = setInterval(() => {
      if (!alive(watchPid)) shutdown(`process ${watchPid} exited`);
    }, 1000);
  }

  if (readyFile) fs.rmSync(readyFile, { force: true });
  log(`world: starting sshd, s3rver and PostgreSQL in ${path.resolve(dir)}`);
  const world = await startSandboxWorld({ dir, log });
  state.world = world;
  if (state.pending) return shutdown(state.pending);
  let seed: SeedResult;
  try {
    seed = await seedStore(path.resolve(storeFile), world);
  } catch (err) {
    await world.stop().catch(() => undefined);
    throw err;
  }
  if (state.stopping) return; // a signal came while seeding: no READY for a world going down
  const summary = summaryOf(world, path.resolve(storeFile), seed);
  for (const line of summary) log(line);
  if (readyFile) {
    const { stop: _stop, postgres, ...rest } = world;
    const { sql: _sql, ...pgInfo } = postgres;
    writeAtomic(
      readyFile,
      JSON.stringify(
        { pid: process.pid, ...rest, postgres: pgInfo, store: storeFile, seed, summary },
        null,
        2,
      ) + '\n',
    );
  }
  log('READY');
  if (state.pending) shutdown(state.pending);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command === 'start') return mainStart(args);
  if (command === 'reap') {
    const dir = argValue(args, '--dir');
    if (!dir) throw new Error('usage: sandbox.js reap --dir <dir>');
    reapLeftovers(dir, (line) => console.log(line));
    return;
  }
  throw new Error(
    'usage: sandbox.js start --dir <dir> --store <file> [--ready-file <file>] | reap --dir <dir>',
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`world: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
