// Pure parsers and mappers of the backup scripts' output.
import * as assert from 'node:assert/strict';
import {
  BackupError,
  EXIT,
  backupFilename,
  engineFromImage,
  errorFromOutcome,
  lineSplitter,
  parseBackupName,
  parseDiscovery,
  parseListing,
  suggestName,
} from '../../src/core/backup';
import { diagnoseS3Error } from '../../src/core/s3/scripts';

const F = '@@infrakt:file';

describe('backup names', () => {
  it('round-trips: <server>_<db>_<engine>_<UTC timestamp>.<format>.<ext>', () => {
    const d = new Date(Date.UTC(2026, 1, 28, 2, 0, 7));
    const name = backupFilename('web-1', 'my_db', 'postgres', d, 'zst');
    assert.equal(name, 'web-1_my_db_postgres_20260228T020007Z.dump.zst');
    const p = parseBackupName(name);
    assert.ok(p);
    assert.equal(p.prefix, 'web-1_my_db');
    assert.equal(p.startedAt.getTime(), d.getTime());
    assert.equal(p.sequence, 1);
    assert.equal(backupFilename('a', 'b', 'redis', d, 'gz', 3), 'a_b_redis_20260228T020007Z-3.rdb.gz');
    assert.equal(parseBackupName('a_b_redis_20260228T020007Z-3.rdb.gz')?.sequence, 3);
  });
  it('rejects partials, checksums, wrong formats and impossible dates', () => {
    for (const n of [
      'web-1_shop_postgres_20260228T020000Z.dump.zst.partial',
      'web-1_shop_postgres_20260228T020000Z.dump.zst.sha256',
      'web-1_shop_postgres_20260228T020000Z.dump.zst.partial-raw',
      'web-1_shop_redis_20260228T020000Z.sql.zst',
      'web-1_shop_postgres_2026022T020000Z.dump.zst',
      'mydb_20260228_020000.sql.gz',
    ]) {
      assert.equal(parseBackupName(n), undefined, n);
    }
  });
});

describe('parseListing', () => {
  const dbs = [
    { name: 'shop', engine: 'postgres' as const },
    { name: 'shop_eu', engine: 'mysql' as const },
    { name: 'cache', engine: 'redis' as const },
    { name: 'empty', engine: 'postgres' as const },
  ];
  const out = [
    `${F} 100 1772244000 web-1_shop_postgres_20260228T020000Z.dump.zst`,
    `${F} 64 1772244000 web-1_shop_postgres_20260228T020000Z.dump.zst.sha256`,
    `${F} 200 1772330400 web-1_shop_postgres_20260301T020000Z.dump.zst`,
    `${F} 201 1772330401 web-1_shop_postgres_20260301T020000Z-2.dump.zst`,
    `${F} 300 1772330400 web-1_shop_eu_mysql_20260301T020000Z.sql.gz`,
    `${F} 5 1772330400 web-1_shop_postgres_20260302T020000Z.dump.zst.partial`,
    `${F} 5 1772330400 web-1_cache_redis_20260302T020000Z.rdb.zst.partial-raw`,
    `${F} 7 1772330400 web-1_cache_redis_20260302T020000Z.rdb.zst`,
    `${F} 9 1772330400 web-1_gone_postgres_20260302T020000Z.dump.zst`,
    `${F} 9 1772330400 web-1_shop_postgres_ odd name with spaces.dump.zst`,
    `${F} 9 1772330400 web-2_shop_postgres_20260302T020000Z.dump.zst`,
    'some noise line',
    `${F} garbage`,
  ].join('\n');
  const l = parseListing(out, 'web-1', dbs);

  it('groups by database (names with _ included), newest first, same-second by sequence', () => {
    assert.deepEqual(
      l.byDatabase.get('shop')?.map((b) => b.filename),
      [
        'web-1_shop_postgres_20260301T020000Z-2.dump.zst',
        'web-1_shop_postgres_20260301T020000Z.dump.zst',
        'web-1_shop_postgres_20260228T020000Z.dump.zst',
      ],
    );
    assert.deepEqual(
      l.byDatabase.get('shop_eu')?.map((b) => b.sizeBytes),
      [300],
    );
    assert.deepEqual(
      l.byDatabase.get('cache')?.map((b) => b.compression),
      ['zst'],
    );
    assert.deepEqual(l.byDatabase.get('empty'), []);
  });
  it('reports size, mtime and whether the checksum is present', () => {
    const [newest, , oldest] = l.byDatabase.get('shop') ?? [];
    assert.equal(oldest.hasChecksum, true);
    assert.equal(newest.hasChecksum, false);
    assert.equal(oldest.modified.toISOString(), '2026-02-28T02:00:00.000Z');
  });
  it('ignores partials, strangers and other servers; keeps unknown databases apart', () => {
    assert.deepEqual(
      l.unknown.map((b) => b.database),
      ['gone'],
    );
    const all = [...l.byDatabase.values()].flat().map((b) => b.filename);
    assert.ok(!all.some((n) => n.includes('partial') || n.includes(' ') || n.startsWith('web-2')));
  });
  it('a missing backup dir is an empty listing, not an error', () => {
    const e = parseListing('@@infrakt:nodir\n', 'web-1', dbs);
    assert.equal(e.noBackupDir, true);
    assert.deepEqual(e.byDatabase.get('shop'), []);
  });
});

describe('parseDiscovery', () => {
  const row = (o: object) => `@@infrakt:container ${JSON.stringify(o)}`;
  const out = [
    '@@infrakt:docker ok',
    row({ Names: 'infrakt-db-shop', Image: 'postgres:16-alpine', State: 'running' }),
    row({ Names: 'cache', Image: 'bitnami/redis:7.2', State: 'running' }),
    row({ Names: 'web', Image: 'nginx:latest', State: 'running' }),
    row({ Names: 'mongo-1', Image: 'mongo@sha256:abc', State: 'exited' }),
    '@@infrakt:container {not json',
    '@@infrakt:tool pg_dump /usr/bin/pg_dump',
    '@@infrakt:tool redis-cli /usr/bin/redis-cli',
    '@@infrakt:listen 5432',
    '@@infrakt:listen 3306',
  ].join('\n');
  const d = parseDiscovery(out);
  it('containers with an engine from the image; others skipped', () => {
    assert.deepEqual(
      d.containers.map((c) => `${c.container}:${c.engine}`),
      ['infrakt-db-shop:postgres', 'cache:redis', 'mongo-1:mongodb'],
    );
  });
  it('host services from tools and listening ports', () => {
    assert.deepEqual(
      d.hostServices.map((h) => `${h.engine}:${h.listening}:${h.tools.join('+')}`),
      ['postgres:true:pg_dump', 'mysql:true:', 'redis:false:redis-cli'],
    );
  });
  it('docker missing or failing', () => {
    assert.equal(parseDiscovery('@@infrakt:docker missing').docker, 'missing');
    const e = parseDiscovery('@@infrakt:docker error permission denied while trying to connect');
    assert.equal(e.docker, 'error');
    assert.match(e.dockerError ?? '', /permission denied/);
  });
  it('engineFromImage and suggestName', () => {
    assert.equal(engineFromImage('docker.io/library/mariadb:11'), 'mysql');
    assert.equal(engineFromImage('timescale/timescaledb-ha:pg16'), 'postgres');
    assert.equal(engineFromImage('valkey/valkey'), 'redis');
    assert.equal(engineFromImage('registry:5000/app'), undefined);
    assert.equal(suggestName('infrakt-db-orders'), 'orders');
    assert.equal(suggestName('/weird name!'), 'weird-name-');
  });
});

describe('errorFromOutcome', () => {
  const ctx = { serverName: 'web-1', action: 'Backup of shop', filename: 'f.dump.zst' };
  it('missing tool names the tool and suggests Provision Server', () => {
    const e = errorFromOutcome(
      { code: EXIT.toolMissing, stdout: '@@infrakt:missing pg_dump\n', stderr: '' },
      ctx,
    );
    assert.equal(e.kind, 'tool-missing');
    assert.equal(e.message, 'pg_dump not found on web-1 — run Provision Server');
    const c = errorFromOutcome(
      { code: 70, stdout: '@@infrakt:missing pg_dump @ in container infrakt-db-shop\n', stderr: '' },
      ctx,
    );
    assert.equal(c.message, 'pg_dump not found in container infrakt-db-shop on web-1 — run Provision Server');
  });
  it('checksum mismatch: damaged, refused, untouched', () => {
    const e = errorFromOutcome({ code: EXIT.checksumMismatch, stdout: '', stderr: 'x' }, ctx);
    assert.equal(
      e.message,
      'Checksum mismatch for f.dump.zst: the backup is damaged; restore refused, database untouched',
    );
  });
  it('a failed stage names it and quotes the tool', () => {
    const e = errorFromOutcome(
      {
        code: EXIT.stageFailed,
        stdout: '@@infrakt:failed pg_dump 1\n',
        stderr: 'pg_dump: error: connection to server failed: FATAL:  password authentication failed\n',
      },
      ctx,
    );
    assert.equal(e.kind, 'dump-failed');
    assert.match(
      e.message,
      /failed in pg_dump \(exit 1\): pg_dump: error: connection .* password authentication failed/,
    );
  });
  it('signals and aborts are cancellations', () => {
    assert.equal(errorFromOutcome({ code: 143, stdout: '', stderr: '' }, ctx).kind, 'cancelled');
    assert.equal(
      errorFromOutcome({ code: 1, stdout: '', stderr: '' }, { ...ctx, aborted: true }).kind,
      'cancelled',
    );
  });
  it('unknown codes keep the stderr excerpt', () => {
    const e = errorFromOutcome({ code: 2, stdout: '', stderr: 'boom\n' }, ctx);
    assert.ok(e instanceof BackupError);
    assert.match(e.message, /exit 2\): boom/);
  });
});

it('lineSplitter joins chunks into whole lines', () => {
  const lines: string[] = [];
  const feed = lineSplitter((l) => lines.push(l));
  feed('@@infrakt:prog');
  feed('ress 10\n@@infrakt:progress 2');
  feed('0\nrest');
  assert.deepEqual(lines, ['@@infrakt:progress 10', '@@infrakt:progress 20']);
});

describe('S3 error diagnosis', () => {
  const d = (text: string, step?: string) => diagnoseS3Error(text, 'web-1', step);
  const crash = [
    'infrakt: using aws-cli/1.45.11 Python/3.11.7 Linux/6.18 botocore/1.43.11',
    "argument of type 'NoneType' is not iterable",
  ].join('\n');
  // awscli's crash on an empty <Message>, then the code the shell library recovered.
  const recovered = (code: string) => `${crash}\ninfrakt: the S3 endpoint answered ${code}`;

  it('names every S3 error code a user can meet, with the next step', () => {
    const table: [string, RegExp, RegExp][] = [
      ['SignatureDoesNotMatch', /^the secret key is wrong/, /secret key again in S3 Settings/],
      ['InvalidAccessKeyId', /^the access key is not known/, /check the access key/],
      ['NoSuchBucket', /^the bucket does not exist at this endpoint$/, /bucket name and endpoint URL/],
      ['AccessDenied', /^access denied$/, /permissions/],
      ['AuthorizationHeaderMalformed', /^the region or endpoint does not match the bucket/, /region/],
      ['PermanentRedirect', /^the region or endpoint does not match the bucket/, /region/],
      ['IllegalLocationConstraintException', /^the region or endpoint does not match/, /region/],
      ['RequestTimeTooSkewed', /^web-1’s clock is off, so the S3 endpoint refuses/, /NTP/],
      ['QuotaExceeded', /^the bucket is full/, /quota/],
      ['XMinioStorageFull', /^the bucket is full/, /quota/],
      ['SlowDown', /slow down \(503\)$/, /try again/],
      ['NotImplemented', /checksum headers/, /preset/],
    ];
    for (const [code, cause, next] of table) {
      for (const text of [
        recovered(code),
        `An error occurred (${code}) when calling the PutObject operation: whatever`,
        `<Error><Code>${code}</Code><Message></Message></Error>`,
      ]) {
        const r = d(text, 'head');
        assert.match(r.cause, cause, `${code}: ${text}`);
        assert.match(r.next, next, code);
      }
    }
    assert.equal(d(recovered('AccessDenied'), 'put').cause, 'the key is not allowed to write to this bucket');
  });

  it('a missing .sha256 object and one that cannot be read are different messages', () => {
    const missing = [
      'fatal error: An error occurred (404) when calling the HeadObject operation: Key "k.sha256" does not exist',
      'infrakt: no checksum object infrakt/backups/shop/k.sha256 in S3 — refusing to restore an unverifiable file',
    ].join('\n');
    assert.match(d(missing).cause, /^there is no checksum object infrakt\/backups\/shop\/k\.sha256 in S3/);
    const denied = [
      'fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden',
      'infrakt: the S3 endpoint answered SignatureDoesNotMatch',
      'infrakt: cannot read the checksum object infrakt/backups/shop/k.sha256 from S3',
    ].join('\n');
    assert.match(d(denied).cause, /^the secret key is wrong/);
  });

  it('says how far the clock is off when the shell measured it', () => {
    const text = `${recovered('RequestTimeTooSkewed')}\ninfrakt: this server's clock is -3600 s off the S3 endpoint's`;
    assert.equal(
      d(text).cause,
      'web-1’s clock is off by 3600 s (behind the S3 endpoint), so the S3 endpoint refuses its signed requests',
    );
  });

  it('never shows awscli’s crash text or the product’s own version line as the cause', () => {
    const r = d(crash);
    assert.equal(r.cause, 'the S3 endpoint refused the request, and awscli failed before it could say why');
    assert.doesNotMatch(`${r.cause} ${r.next}`, /NoneType|aws-cli\/1/);
    assert.equal(d(`${crash}\nsomething else happened`).cause, 'something else happened');
  });

  it('network failures: unreachable, DNS, TLS; a port with 403 in it is not access denied', () => {
    const text = 'Could not connect to the endpoint URL: "http://127.0.0.1:40353/infrakt-test/p.txt"';
    assert.equal(d(text, 'put').cause, 'web-1 cannot reach the S3 endpoint');
    assert.match(
      d('Could not resolve host: s3.nowhere.example').cause,
      /cannot resolve the endpoint’s host name/,
    );
    assert.match(d('SSL validation failed for https://x/ [SSL: CERTIFICATE_VERIFY_FAILED]').cause, /^TLS/);
    assert.equal(
      d('An error occurred (403) when calling the HeadObject operation: Forbidden', 'head').cause,
      'access denied',
    );
  });

  it('a checksum header the provider refuses is named, with the compatibility option', () => {
    const r = d(
      'An error occurred (InvalidArgument) when calling the PutObject operation: x-amz-checksum-crc32 not supported',
    );
    assert.match(r.next, /checksum compatibility option/);
    assert.doesNotMatch(
      d('An error occurred (InvalidArgument) when calling X: bad part number').next,
      /checksum/,
    );
  });
});
