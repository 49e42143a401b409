import * as assert from 'node:assert/strict';
import {
  S3Index,
  S3ListingShare,
  listServerBackups,
  mergeServerBackups,
  parseLocalPart,
  serverS3Prefixes,
} from '../../src/core/backup/serverListing';
import { backupFilename } from '../../src/core/backup';
import type { RunResult } from '../../src/core/remote/runner';
import { limiter } from '../../src/core/limit';
import { rowFor, s3ProblemRow } from '../../src/core/treeRows';
import type { Database, Server } from '../../src/core/model';

const server = { name: 'web-1', backupDir: '/opt/infrakt/backups' };
const dbs = [
  { name: 'shop', engine: 'postgres' as const },
  { name: 'cache', engine: 'redis' as const },
];
const s3 = { prefix: 'infrakt/backups/' };
const creds = {
  settings: {
    endpointUrl: 'https://s3.example.com',
    bucket: 'b',
    region: 'us-east-1',
    accessKey: 'AKIAEXAMPLE',
    prefix: 'infrakt/backups/',
    pathStyle: false,
    checksumWhenRequired: false,
  },
  secretKey: 'canary-Secret-42',
};
const F1 = 'web-1_shop_postgres_20261124T020000Z.dump.zst';
const F2 = 'web-1_shop_postgres_20261125T020000Z.dump.zst';
const OTHER = 'web-2_shop_postgres_20261125T030000Z.dump.zst';

describe('server listing (tree: one round trip per server)', () => {
  it('merges local files and S3 objects into local | s3 | both, ignoring other servers’ objects', () => {
    const part = parseLocalPart(
      [
        `@@infrakt:file 100 1764036000 ${F1}`,
        `@@infrakt:file 80 1764036000 ${F1}.sha256`,
        '@@infrakt:localrc 0',
      ].join('\n'),
      '',
      server,
      dbs,
    );
    const index = new S3Index();
    index.addListing(
      rows([
        `infrakt/backups/shop/${F1}`,
        `infrakt/backups/shop/${F1}.sha256`,
        `infrakt/backups/shop/${F2}`,
        `infrakt/backups/shop/${F2}.sha256`,
        `infrakt/backups/shop/${OTHER}`,
      ]),
      s3.prefix,
    );
    const l = mergeServerBackups(part, server, dbs, { state: 'ok', index });
    assert.deepEqual(l.s3, { state: 'ok' });
    assert.equal(l.localError, undefined);
    assert.deepEqual(
      l.byDatabase.get('shop')?.map((e) => [e.filename, e.location, e.hasChecksum]),
      [
        [F2, 's3', true],
        [F1, 'both', true],
      ],
    );
    assert.deepEqual(l.byDatabase.get('cache'), []);
  });

  it('reports an S3 failure beside the local files, and a local failure with its exit code', () => {
    const part = parseLocalPart(
      [`@@infrakt:file 100 1764036000 ${F1}`, '@@infrakt:localrc 0'].join('\n'),
      '',
      server,
      dbs,
    );
    const message = 'An error occurred (InvalidAccessKeyId)';
    const l = mergeServerBackups(part, server, dbs, { state: 'error', message });
    assert.deepEqual(l.s3, { state: 'error', message });
    assert.equal(l.byDatabase.get('shop')?.[0].location, 'local');
    const bad = mergeServerBackups(
      parseLocalPart('@@infrakt:localrc 3', 'cd: Permission denied\n', server, dbs),
      server,
      dbs,
    );
    assert.match(bad.localError ?? '', /exit 3.*Permission denied/);
    assert.deepEqual(bad.s3, { state: 'off' });
  });

  it('a backup row shows start time, size, age and the location badge; its menu depends on where it is', () => {
    const row = rowFor(
      {
        kind: 'backup',
        server: { id: 's', name: 'web-1' } as Server,
        database: { id: 'd', name: 'shop' } as Database,
        entry: {
          filename: F2,
          sizeBytes: 5 * 1024 * 1024,
          modified: new Date('2026-11-25T02:00:05Z'),
          location: 'both',
          hasChecksum: true,
        },
      },
      new Date('2026-11-25T05:00:00Z'),
    );
    // Where, size and age lead (they must fit a narrow side bar); the start time may be cut.
    assert.equal(row.label, 'S3 + Local · 5.0 MB · 2 h ago');
    assert.equal(row.description, '11-25 02:00 UTC');
    assert.equal(row.contextValue, 'infrakt.backup.both');
    assert.match(row.tooltip, new RegExp(F2));
    assert.match(row.tooltip, /^Started 2026-11-25 02:00:00 UTC$/m);
    assert.equal(row.icon.id, 'cloud');
    assert.doesNotMatch(row.tooltip, /Encrypted/);
    const encrypted = rowFor({
      kind: 'backup',
      server: { id: 's', name: 'web-1' } as Server,
      database: { id: 'd', name: 'shop' } as Database,
      entry: {
        filename: `${F2}.age`,
        sizeBytes: 1,
        modified: new Date(),
        location: 'both',
        hasChecksum: true,
      },
    });
    assert.deepEqual(
      encrypted.icon,
      { id: 'lock', color: 'testing.iconPassed' },
      'a lock, in the location’s colour',
    );
    assert.match(encrypted.tooltip, /Encrypted with age: restores with a recovery key on this computer/);
  });

  it('the S3 warning row is short ("S3 copies not listed"), the cause beside it, what to do in the tooltip', () => {
    const noSecret = rowFor(s3ProblemRow({ id: 's', name: 'web-1' }, { kind: 'no-secret' }));
    assert.equal(noSecret.label, 'S3 copies not listed');
    assert.equal(noSecret.description, 'no S3 secret key on this computer');
    assert.match(noSecret.tooltip, /Next: enter it in S3 Settings/);
    assert.doesNotMatch(noSecret.tooltip, /log/, 'nothing was run: nothing to look up in the log');
    assert.equal(noSecret.contextValue, 'infrakt.error');
    const denied = rowFor(
      s3ProblemRow(
        { id: 's', name: 'web-1' },
        {
          kind: 'listing',
          message: 'An error occurred (InvalidAccessKeyId) when calling the ListObjectsV2 operation: nope',
        },
      ),
    );
    assert.equal(denied.label, 'S3 copies not listed');
    assert.equal(denied.description, 'the access key is not known to the storage provider');
    assert.match(denied.tooltip, /InvalidAccessKeyId/);
  });
});

/** What listS3PrefixesScript prints for these documents (one per prefix). */
function prefixOutput(...docs: string[]): string {
  return docs.map((d, i) => `@@infrakt:s3prefix ${i}\n${d}\n\n@@infrakt:s3prefixend\n`).join('');
}

function rows(keys: string[]): string {
  return JSON.stringify(
    keys.map((k) => [k, 10, '2026-11-25T02:00:05+00:00']),
    null,
    4,
  );
}

type Srv = { id: string; name: string; backupDir: string };
const srv = (i: number): Srv => ({ id: `id-${i}`, name: `srv-${i}`, backupDir: `/b/${i}` });
const ok = (stdout: string): RunResult => ({ code: 0, stdout, stderr: '' });

describe('tree listing: local round trip + one S3 listing shared by all servers', () => {
  it('indexes a whole-prefix listing per database folder and server, skipping strangers', () => {
    const index = new S3Index();
    index.addListing(
      rows([
        `infrakt/backups/shop/${F1}`,
        `infrakt/backups/shop/${F1}.sha256`,
        `infrakt/backups/shop/${OTHER}`,
        `infrakt/backups/shop/nested/${F2}`,
        `infrakt/backups/${F2}`,
        `infrakt/backups/shop/README`,
        `elsewhere/shop/${F2}`,
      ]),
      'infrakt/backups/',
    );
    assert.deepEqual(
      index.objects('web-1', 'shop', 'postgres').map((o) => o.filename),
      [F1, `${F1}.sha256`],
    );
    assert.deepEqual(
      index.objects('web-2', 'shop', 'postgres').map((o) => o.filename),
      [OTHER],
    );
    assert.deepEqual(index.objects('web-1', 'shop', 'mysql'), []);
    assert.equal(index.size, 3);
    const empty = new S3Index();
    empty.addListing('null\n', 'infrakt/backups/');
    empty.addListing('', 'infrakt/backups/');
    assert.equal(empty.size, 0);
    assert.throws(() => empty.addListing('{"Contents": []}', 'p/'), /JSON array/);
    assert.throws(() => empty.addListing('[["k", "10", "d"]]', 'p/'), /unexpected entry/);
  });

  it('one listing serves thirty servers: one run, each server gets its own backups', async () => {
    const runs: string[] = [];
    const keys = Array.from({ length: 30 }, (_, i) => [
      `infrakt/backups/shop/srv-${i}_shop_postgres_20261125T020000Z.dump.zst`,
      `infrakt/backups/shop/srv-${i}_shop_postgres_20261125T020000Z.dump.zst.sha256`,
    ]).flat();
    const share = new S3ListingShare<Srv>({
      creds,
      prefixes: ['infrakt/backups/'],
      run: async (s) => {
        runs.push(s.name);
        await new Promise((r) => setTimeout(r, 5));
        return ok(prefixOutput(rows(keys)));
      },
    });
    const servers = Array.from({ length: 30 }, (_, i) => srv(i));
    const outcomes = await Promise.all(servers.map((s) => share.request(s)));
    assert.deepEqual(runs, ['srv-0']);
    assert.equal(share.attempts, 1);
    for (const [i, o] of outcomes.entries()) {
      assert.ok(o.ok);
      const mine = o.index.objects(`srv-${i}`, 'shop', 'postgres');
      assert.equal(mine.length, 2);
    }
  });

  it('a server without awscli or unreachable is passed over for the next; one known without awscli is not asked', async () => {
    const runs: string[] = [];
    const share = new S3ListingShare<Srv>({
      creds,
      prefixes: ['infrakt/backups/'],
      run: async (s) => {
        runs.push(s.name);
        if (s.name === 'srv-0')
          return { code: 127, stdout: '', stderr: 'infrakt: awscli (aws) not found on this server' };
        if (s.name === 'srv-1') throw new Error('Connection refused by srv-1');
        if (s.name === 'srv-3')
          return ok(
            '@@infrakt:s3prefix 0\n\n@@infrakt:s3error Could not connect to the endpoint URL: "http://x/"\n',
          );
        return ok(prefixOutput('null'));
      },
    });
    share.hint('id-2', { awscli: false });
    const outcomes = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => share.request(srv(i))));
    assert.deepEqual(runs, ['srv-0', 'srv-1', 'srv-3', 'srv-4']);
    assert.ok(outcomes.every((o) => o.ok));
    // Settled: a later request (a server expanded later) runs nothing.
    await share.request(srv(9));
    assert.equal(share.attempts, 4);
  });

  it('a bucket error is the same from every server: reported to all, nobody else asked', async () => {
    let n = 0;
    const share = new S3ListingShare<Srv>({
      creds,
      prefixes: ['infrakt/backups/'],
      run: async () => {
        n++;
        return ok(
          '@@infrakt:s3prefix 0\n\n@@infrakt:s3error An error occurred (InvalidAccessKeyId) when calling the ListObjectsV2 operation\n',
        );
      },
    });
    const outcomes = await Promise.all([0, 1, 2].map((i) => share.request(srv(i))));
    assert.equal(n, 1);
    for (const o of outcomes) {
      assert.ok(!o.ok);
      assert.match(o.message, /InvalidAccessKeyId/);
    }
  });

  it('when no server can list S3, each is told its own reason; a server joining later is still tried', async () => {
    const runs: string[] = [];
    const share = new S3ListingShare<Srv>({
      creds,
      prefixes: ['infrakt/backups/'],
      run: async (s) => {
        runs.push(s.name);
        if (s.name === 'srv-7') return ok(prefixOutput('[]'));
        return { code: 127, stdout: '', stderr: 'infrakt: awscli (aws) not found on this server' };
      },
    });
    share.hint('id-1', { unreachable: 'Timed out connecting to srv-1' });
    const [a, b] = await Promise.all([share.request(srv(0)), share.request(srv(1))]);
    assert.ok(!a.ok && !b.ok);
    assert.equal(a.byServer.get('id-0'), 'awscli (aws) not found on this server');
    assert.equal(b.byServer.get('id-1'), 'Timed out connecting to srv-1');
    assert.deepEqual(runs, ['srv-0']);
    const late = await share.request(srv(7));
    assert.ok(late.ok);
    assert.deepEqual(runs, ['srv-0', 'srv-7']);
  });

  it('a server refreshed on its own lists only its databases\u2019 name prefixes', () => {
    assert.deepEqual(serverS3Prefixes('infrakt/backups/', 'web-1', dbs), [
      'infrakt/backups/shop/web-1_shop_postgres_',
      'infrakt/backups/cache/web-1_cache_redis_',
    ]);
  });

  it('merges a server\u2019s local round trip with the shared listing; an unreachable server throws and is not asked', async () => {
    const share = new S3ListingShare<Srv>({
      creds,
      prefixes: ['infrakt/backups/'],
      run: async () =>
        ok(
          prefixOutput(
            rows([
              `infrakt/backups/shop/${F1}`,
              `infrakt/backups/shop/${F1}.sha256`,
              `infrakt/backups/shop/${F2}`,
              `infrakt/backups/shop/${F2}.sha256`,
            ]),
          ),
        ),
    });
    const web1 = { id: 'w1', name: 'web-1', backupDir: '/opt/infrakt/backups' };
    const { listing, stdout } = await listServerBackups(
      web1,
      dbs,
      async () =>
        ok(`@@infrakt:file 100 1764036000 ./${F1}\n@@infrakt:localrc 0\n@@infrakt:awscli yes\nSTATUS\n`),
      share,
    );
    assert.match(stdout, /STATUS/);
    assert.deepEqual(listing.s3, { state: 'ok' });
    assert.deepEqual(
      listing.byDatabase.get('shop')?.map((e) => [e.filename, e.location]),
      [
        [F2, 's3'],
        [F1, 'both'],
      ],
    );
    const down = { id: 'w2', name: 'web-2', backupDir: '/opt/infrakt/backups' };
    await assert.rejects(
      listServerBackups(down, dbs, async () => {
        throw new Error('Connection refused by web-2');
      }),
      /Connection refused/,
    );
    await assert.rejects(
      listServerBackups(down, dbs, async () => ({ code: 255, stdout: '', stderr: 'boom' })),
      /listing failed \(exit 255\): boom/,
    );
  });

  it('parses 10,000 local files and 20,000 S3 objects of one database into one list', () => {
    const start = Date.UTC(2025, 0, 1);
    const names = Array.from({ length: 10_000 }, (_, i) =>
      backupFilename('web-1', 'shop', 'postgres', new Date(start + i * 3_600_000), 'zst'),
    );
    const local = names.flatMap((n) => [
      `@@infrakt:file 5 1764036000 ./${n}`,
      `@@infrakt:file 80 1764036000 ./${n}.sha256`,
    ]);
    const part = parseLocalPart(`${local.join('\n')}\n@@infrakt:localrc 0\n`, '', server, dbs);
    const index = new S3Index();
    index.addListing(
      rows(names.flatMap((n) => [`infrakt/backups/shop/${n}`, `infrakt/backups/shop/${n}.sha256`])),
      'infrakt/backups/',
    );
    const l = mergeServerBackups(part, server, dbs, { state: 'ok', index }).byDatabase.get('shop') ?? [];
    assert.equal(l.length, 10_000);
    assert.ok(l.every((e) => e.location === 'both' && e.hasChecksum));
  });
});

describe('limiter', () => {
  it('never runs more than n tasks at once, and runs them all', async () => {
    const limit = limiter(2);
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        limit(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 10));
          active--;
          if (i === 3) throw new Error('three');
          return i;
        }).catch((e: Error) => e.message),
      ),
    );
    assert.deepEqual(results, [1, 2, 'three', 4, 5]);
    assert.equal(peak, 2);
  });
});
