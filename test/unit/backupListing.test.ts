import * as assert from 'node:assert/strict';
import { parseServerListing, serverListingScript } from '../../src/core/backupListing';
import { limiter } from '../../src/core/limit';
import { s3RetentionVictims } from '../../src/core/retention';
import { rowFor } from '../../src/core/treeRows';
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

function objects(keys: [string, number][]): string {
  return JSON.stringify({
    Contents: keys.map(([k, size]) => ({ Key: k, Size: size, LastModified: '2026-11-25T02:00:05Z' })),
  });
}

describe('server listing (tree: one round trip per server)', () => {
  it('is one script: local listing, then S3 in a subshell; the secret only exported', () => {
    const script = serverListingScript(server, dbs, creds);
    assert.equal(script.match(/export AWS_SECRET_ACCESS_KEY=/g)?.length, 1);
    assert.match(script, /list-objects-v2 .*--prefix 'infrakt\/backups\/shop\/'/);
    assert.match(script, /list-objects-v2 .*--prefix 'infrakt\/backups\/cache\/'/);
    assert.doesNotMatch(serverListingScript(server, dbs), /aws/);
  });

  it('merges local files and S3 objects into local | s3 | both, ignoring other servers’ objects', () => {
    const stdout = [
      `@@infrakt:file 100 1764036000 ${F1}`,
      `@@infrakt:file 80 1764036000 ${F1}.sha256`,
      '@@infrakt:localrc 0',
      '@@infrakt:s3list shop',
      objects([
        [`infrakt/backups/shop/${F1}`, 100],
        [`infrakt/backups/shop/${F2}`, 120],
        [`infrakt/backups/shop/${F2}.sha256`, 80],
        [`infrakt/backups/shop/${OTHER}`, 50],
      ]),
      '@@infrakt:s3end',
      '@@infrakt:s3list cache',
      '',
      '@@infrakt:s3end',
    ].join('\n');
    const l = parseServerListing(stdout, '', server, dbs, s3);
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
    const l = parseServerListing(
      [
        `@@infrakt:file 100 1764036000 ${F1}`,
        '@@infrakt:localrc 0',
        '@@infrakt:s3error An error occurred (InvalidAccessKeyId)',
      ].join('\n'),
      '',
      server,
      dbs,
      s3,
    );
    assert.deepEqual(l.s3, { state: 'error', message: 'An error occurred (InvalidAccessKeyId)' });
    assert.equal(l.byDatabase.get('shop')?.[0].location, 'local');
    const bad = parseServerListing('@@infrakt:localrc 3', 'cd: Permission denied\n', server, dbs);
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
    assert.equal(row.label, '2026-11-25 02:00:00 UTC');
    assert.equal(row.description, 'S3 + Local · 5.0 MB · 2 h ago');
    assert.equal(row.contextValue, 'infrakt.backup.both');
    assert.match(row.tooltip, new RegExp(F2));
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

describe('S3 retention (keep newest N)', () => {
  const entry = (filename: string, location: 'local' | 's3' | 'both') => ({
    filename,
    sizeBytes: 1,
    modified: new Date('2026-11-25T00:00:00Z'),
    location,
    hasChecksum: true,
  });
  const name = (day: number, seq = 1) =>
    `web-1_shop_postgres_202611${String(day).padStart(2, '0')}T020000Z${seq > 1 ? `-${seq}` : ''}.dump.zst`;

  it('deletes the S3 copies beyond the newest N, oldest first in the list, never local-only files', () => {
    const list = [
      entry(name(20), 'both'),
      entry(name(21), 's3'),
      entry(name(22), 'local'),
      entry(name(23), 'both'),
      entry(name(23, 2), 's3'),
    ];
    assert.deepEqual(s3RetentionVictims(list, 2, name(23, 2)), [name(21), name(20)]);
    assert.deepEqual(s3RetentionVictims(list, 0, name(23, 2)), []);
    assert.deepEqual(s3RetentionVictims(list, 10, name(23, 2)), []);
  });

  it('never deletes the backup just uploaded, and does nothing when it is not listed yet', () => {
    const list = [entry(name(20), 's3'), entry(name(24), 's3'), entry(name(25), 's3')];
    // The upload (day 20, an older name, e.g. a re-upload) is kept even though it is not among the newest 1.
    assert.deepEqual(s3RetentionVictims(list, 1, name(20)), [name(24)]);
    assert.deepEqual(s3RetentionVictims(list, 1, name(26)), []);
  });
});
