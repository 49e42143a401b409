// The tree's listing at scale, over a real sshd and a real S3 server (s3rver,
// in its own process so it lists past 1,000 keys): 10,000 local backups in one
// round trip, hostile file names never listed as backups (GNU and busybox
// tools), and 2,500 backups of a database in S3 with their checksum objects
// listed whole (pagination) by the shared S3 listing — including the
// hand-over to another server when the first one has no awscli or cannot
// reach the endpoint. Timings are printed, never asserted.
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backupFilename, listScript, parseListing } from '../../src/core/backup';
import {
  S3ListingShare,
  listServerBackups,
  serverS3Prefixes,
  type ListedDatabase,
} from '../../src/core/backup/serverListing';
import type { Server } from '../../src/core/model';
import type { S3Credentials } from '../../src/core/s3/scripts';
import { ConnectionPool } from '../../src/ssh/connectionPool';
import { keyServer, testEnv } from '../support/sshEnv';
import { S3RVER_KEY, s3rverSettings, startS3, stopS3AndRemove, type S3World } from '../world/s3';
import { startSshServer, type SshServer } from '../world/sshServer';

const DAY0 = Date.UTC(2025, 0, 1);
const hourly = (server: string, db: string, i: number) =>
  backupFilename(server, db, 'postgres', new Date(DAY0 + i * 3_600_000), 'zst');

/** Runs a command, resolving with its exit code and output (async: s3rver and sshd keep serving). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('listing at scale (real sshd, s3rver in a process of its own)', function () {
  this.timeout(300_000);
  let sshd: SshServer;
  let s3: S3World;
  let pool: ConnectionPool;
  let work: string;
  /** A PATH of busybox applets only (no awscli, busybox find/stat/sh). */
  let busyboxBin: string | undefined;

  before(async () => {
    [sshd, s3] = await Promise.all([startSshServer(), startS3('infrakt-scale', { process: true })]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-listing-scale-'));
    pool = new ConnectionPool(testEnv());
    if (fs.existsSync('/usr/bin/busybox')) {
      busyboxBin = path.join(work, 'busybox-bin');
      fs.mkdirSync(busyboxBin);
      execFileSync('/usr/bin/busybox', ['--install', '-s', busyboxBin]);
    }
  });
  after(async () => {
    pool?.dispose();
    await sshd?.stop();
    if (s3) await stopS3AndRemove(s3);
    if (sshd) fs.rmSync(sshd.dir, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('a local backup dir', () => {
    let server: Server;
    const dbs: ListedDatabase[] = [{ name: 'shop', engine: 'postgres' }];
    const N = 10_000;
    // Each would be listed as a backup of shop if a name were taken apart by lines or words.
    const forged = hourly('web-1', 'shop', N + 1);
    const hostile = [
      `${hourly('web-1', 'shop', N + 2)}\n@@infrakt:file 1 1 ${forged}`,
      `web-1_shop_postgres_ x\n${forged}`,
      `${forged}\n`,
      `-${hourly('web-1', 'shop', N + 3)}`,
      `web-1_shop_postgres_ spaced ${path.basename(hourly('web-1', 'shop', N + 4))}`,
      `${hourly('web-1', 'shop', N + 5)}.partial`,
      `${hourly('web-1', 'shop', N + 6)}.partial-raw`,
    ];

    before(() => {
      server = keyServer(sshd, path.join(work, 'backups'));
      fs.mkdirSync(server.backupDir, { mode: 0o700 });
      for (let i = 0; i < N; i++) {
        const name = hourly('web-1', 'shop', i);
        fs.writeFileSync(path.join(server.backupDir, name), 'x'.repeat(1 + (i % 7)));
        fs.writeFileSync(path.join(server.backupDir, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
      }
      for (const h of hostile) fs.writeFileSync(path.join(server.backupDir, h), 'hostile');
      // A directory with a backup's name is not a file.
      fs.mkdirSync(path.join(server.backupDir, hourly('web-1', 'shop', N + 7)));
    });

    it(`lists ${N.toLocaleString('en')} backups (${(2 * N).toLocaleString('en')} files) in one round trip; hostile names are not backups`, async () => {
      const channels = pool.stats.channels;
      const t0 = performance.now();
      const { listing } = await listServerBackups(server, dbs, (script) => pool.run(server, script));
      const ms = performance.now() - t0;
      assert.equal(pool.stats.channels - channels, 1, 'one round trip');
      const shop = listing.byDatabase.get('shop') ?? [];
      console.log(
        `      ${N} backups + ${N} checksums + ${hostile.length + 1} hostile entries listed over SSH in ${ms.toFixed(0)} ms (first call, SSH connect included)`,
      );
      assert.equal(listing.localError, undefined);
      assert.equal(shop.length, N);
      assert.ok(shop.every((e) => e.location === 'local' && e.hasChecksum));
      assert.equal(shop[0].filename, hourly('web-1', 'shop', N - 1), 'newest first');
      // Exactly the real ones: nothing forged, cut from a hostile name, partial, or a directory.
      const expected = new Set(Array.from({ length: N }, (_, i) => hourly('web-1', 'shop', i)));
      assert.ok(shop.every((e) => expected.has(e.filename)));
    });

    it('busybox find/stat/sh give the same listing', async function () {
      if (!busyboxBin) this.skip();
      const script = listScript(server);
      // Over SSH with busybox's tools first on the PATH, and under busybox ash itself.
      const viaSsh = await pool.run(server, `PATH=${busyboxBin}\n${script}`);
      assert.equal(viaSsh.code, 0, viaSsh.stderr);
      const ash = await run('/usr/bin/busybox', ['ash', '-c', script], { PATH: busyboxBin });
      assert.equal(ash.code, 0, ash.out);
      for (const out of [viaSsh.stdout, ash.out]) {
        const l = parseListing(out, 'web-1', dbs);
        const shop = l.byDatabase.get('shop') ?? [];
        assert.equal(shop.length, N);
        assert.ok(!shop.some((b) => b.filename === hourly('web-1', 'shop', N + 1)));
        assert.ok(
          !out.split('\n').some((line) => line.startsWith(forged)),
          'no line starts with a forged name',
        );
      }
    });
  });

  describe('2,500 backups of a database in S3', () => {
    const COUNT = 2_500;
    const dbs: ListedDatabase[] = [{ name: 'shop', engine: 'postgres' }];
    let creds: S3Credentials;
    let servers: Server[];
    const other = 'web-2';

    before(async () => {
      creds = { settings: s3rverSettings(s3), secretKey: S3RVER_KEY };
      // A folder of tiny files shaped as the bucket, uploaded by one local `aws s3 sync`.
      const tree = path.join(work, 's3-tree');
      const folder = path.join(tree, 'shop');
      fs.mkdirSync(folder, { recursive: true });
      for (let i = 0; i < COUNT; i++) {
        const name = hourly('web-1', 'shop', i);
        fs.writeFileSync(path.join(folder, name), `b${i}`);
        fs.writeFileSync(path.join(folder, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
      }
      // Another server's backups share the database's prefix; a stray object too.
      for (let i = 0; i < 10; i++) {
        const name = hourly(other, 'shop', i);
        fs.writeFileSync(path.join(folder, name), 'o');
        fs.writeFileSync(path.join(folder, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
      }
      fs.writeFileSync(path.join(folder, 'notes.txt'), 'not a backup');
      const config = path.join(work, 'aws-config');
      fs.writeFileSync(
        config,
        '[default]\ns3 =\n    addressing_style = path\n    max_concurrent_requests = 32\n',
      );
      const t0 = performance.now();
      const up = await run(
        '/usr/bin/aws',
        [
          '--endpoint-url',
          s3.endpointUrl,
          's3',
          'sync',
          '--only-show-errors',
          tree,
          `s3://${s3.bucket}/${creds.settings.prefix}`,
        ],
        {
          ...process.env,
          AWS_ACCESS_KEY_ID: S3RVER_KEY,
          AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_CONFIG_FILE: config,
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
      );
      assert.equal(up.code, 0, up.out);
      console.log(
        `      uploaded ${2 * COUNT + 21} objects with aws s3 sync in ${(performance.now() - t0).toFixed(0)} ms`,
      );
      assert.equal(s3.listKeys().length, 2 * COUNT + 21);

      // Four server rows on the one sshd: without awscli (a busybox-only PATH),
      // one whose aws cannot reach the endpoint (a wrapper pointing it at a
      // closed port), and two that work.
      const unreachable = path.join(work, 'aws-unreachable');
      fs.mkdirSync(unreachable);
      fs.writeFileSync(
        path.join(unreachable, 'aws'),
        '#!/bin/sh\n# this server cannot reach the endpoint: every call goes to a closed port\n[ "$1" = --endpoint-url ] && shift 2\nexec /usr/bin/aws --endpoint-url http://127.0.0.1:9 "$@"\n',
        { mode: 0o755 },
      );
      const row = (id: string, name: string, prelude: string): Server & { prelude: string } => ({
        ...keyServer(sshd, path.join(work, `backups-${id}`)),
        id,
        name,
        prelude,
      });
      servers = [
        row('s-noaws', 'noaws', `PATH=${busyboxBin ?? ''}\n`),
        row('s-unreach', 'unreach', `PATH=${unreachable}:$PATH\n`),
        row('s-web1', 'web-1', ''),
        row('s-web2', other, ''),
      ];
    });

    const runner = (s: Server, script: string) =>
      pool.run(s, `${(s as Server & { prelude: string }).prelude}${script}`, {
        secrets: [creds.secretKey],
        timeoutMs: 120_000,
      });

    it('one shared listing of the whole prefix lists all 2,500 with their checksums, after passing over a server without awscli and one that cannot reach S3', async function () {
      if (!busyboxBin) this.skip();
      const share = new S3ListingShare<Server>({ creds, prefixes: [creds.settings.prefix], run: runner });
      const t0 = performance.now();
      const results = await Promise.all(
        servers.map((s) => listServerBackups(s, dbs, (script) => runner(s, script), share)),
      );
      const ms = performance.now() - t0;
      const outcome = share.outcome;
      assert.ok(outcome?.ok, outcome && !outcome.ok ? outcome.message : 'not settled');
      // Servers whose own listing has said they have awscli are asked first: either working one.
      assert.ok(['web-1', other].includes(outcome.lister.name), outcome.lister.name);
      // The server without awscli said so in its own listing, so it may not even have been asked.
      assert.ok(share.attempts >= 2 && share.attempts <= 3, `${share.attempts} attempts`);
      assert.ok(outcome.index.size >= 2 * COUNT + 20);
      console.log(
        `      shared S3 listing of ${outcome.index.size} backup objects via ${outcome.lister.name} after ${share.attempts - 1} failed attempt(s); all four servers listed in ${ms.toFixed(0)} ms`,
      );
      const byName = new Map(servers.map((s, i) => [s.name, results[i].listing]));
      const web1 = byName.get('web-1')?.byDatabase.get('shop') ?? [];
      assert.equal(web1.length, COUNT);
      assert.ok(web1.every((e) => e.location === 's3' && e.hasChecksum));
      assert.equal(web1[0].filename, hourly('web-1', 'shop', COUNT - 1));
      assert.equal(new Set(web1.map((e) => e.filename)).size, COUNT);
      assert.equal(byName.get(other)?.byDatabase.get('shop')?.length, 10);
      // The servers that could not list S3 themselves still see S3 (another server listed it).
      for (const l of byName.values()) assert.deepEqual(l.s3, { state: 'ok' });
    });

    it('a server refreshed on its own lists just its prefixes: the same 2,500', async () => {
      const web1 = servers[2];
      const share = new S3ListingShare<Server>({
        creds,
        prefixes: serverS3Prefixes(creds.settings.prefix, web1.name, dbs),
        run: runner,
        preferred: [web1],
      });
      const { listing } = await listServerBackups(web1, dbs, (script) => runner(web1, script), share);
      assert.equal(share.attempts, 1);
      const shop = listing.byDatabase.get('shop') ?? [];
      assert.equal(shop.length, COUNT);
      assert.ok(shop.every((e) => e.hasChecksum));
    });

    it('when no server can list S3, each says why beside its local listing', async function () {
      if (!busyboxBin) this.skip();
      const unable = servers.slice(0, 2);
      const share = new S3ListingShare<Server>({ creds, prefixes: [creds.settings.prefix], run: runner });
      const results = await Promise.all(
        unable.map((s) => listServerBackups(s, dbs, (script) => runner(s, script), share)),
      );
      const [noaws, unreach] = results.map((r) => r.listing.s3);
      assert.deepEqual(noaws, { state: 'error', message: 'awscli (aws) not found on this server' });
      assert.equal(unreach.state, 'error');
      assert.match(unreach.state === 'error' ? unreach.message : '', /Could not connect to the endpoint URL/);
    });
  });
});
