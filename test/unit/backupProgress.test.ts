import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type BackupTarget, backUpNow } from '../../src/core/backup';
import {
  BackupProgressMeter,
  type SizeEstimate,
  humanDuration,
  parseEstimate,
} from '../../src/core/backup/progress';
import { localRunner } from '../world/localRunner';

const MB = 1024 * 1024;

describe("Back Up Now's progress line: bytes, rate, percent and time left", () => {
  it('reads the estimate mark: bytes and where the guess comes from; anything else is ignored', () => {
    assert.deepEqual(parseEstimate('7654321 database'), { bytes: 7654321, from: 'database' });
    assert.deepEqual(parseEstimate('1024 last'), { bytes: 1024, from: 'last' });
    assert.deepEqual(parseEstimate('99 snapshot'), { bytes: 99, from: 'snapshot' });
    for (const bad of ['', '0 database', '-5 last', '12 guess', 'x database', '1e9 last'])
      assert.equal(parseEstimate(bad), undefined, bad);
  });

  it('without an estimate: bytes, rate and time so far', () => {
    const m = new BackupProgressMeter(0);
    assert.equal(m.update(2 * MB, undefined, 1000), '2.0 MB written · 2.0 MB/s · 1 s');
    assert.equal(m.update(6 * MB, undefined, 2000), '6.0 MB written · 4.0 MB/s · 2 s');
  });

  it("the database's size is compared with the dump's bytes read: percent and time left at the current rate", () => {
    const m = new BackupProgressMeter(0);
    m.addEstimate({ bytes: 100 * MB, from: 'database' });
    // No read count (not Linux): no percentage, just what is known.
    assert.equal(m.update(1 * MB, undefined, 1000), '1.0 MB written · 1.0 MB/s · 1 s');
    const m2 = new BackupProgressMeter(0);
    m2.addEstimate({ bytes: 100 * MB, from: 'database' });
    m2.update(1 * MB, 10 * MB, 1000);
    assert.equal(m2.update(2 * MB, 20 * MB, 2000), '2.0 MB written · 1.0 MB/s · about 20%, 8 s left');
  });

  it("the last backup's size wins: it is compressed like this one, so it is compared with the bytes written", () => {
    const m = new BackupProgressMeter(0);
    m.addEstimate({ bytes: 1000 * MB, from: 'database' });
    m.addEstimate({ bytes: 40 * MB, from: 'last' });
    m.update(5 * MB, 300 * MB, 1000, 'written and streamed to S3');
    assert.equal(
      m.update(10 * MB, 600 * MB, 2000, 'written and streamed to S3'),
      '10 MB written and streamed to S3 · 5.0 MB/s · about 25%, 6 s left',
    );
  });

  it('the rate is of the last seconds: a stall shows as a falling rate, and no time left while nothing moves', () => {
    const m = new BackupProgressMeter(0);
    m.addEstimate({ bytes: 100 * MB, from: 'last' });
    for (let t = 1; t <= 10; t++) m.update(t * MB, undefined, t * 1000);
    for (let t = 11; t <= 16; t++) m.update(10 * MB, undefined, t * 1000);
    assert.equal(m.update(10 * MB, undefined, 17_000), '10 MB written · 0 B/s · about 10%');
  });

  it('past the estimate it says so instead of a percentage over 100', () => {
    const m = new BackupProgressMeter(0);
    m.addEstimate({ bytes: 4 * MB, from: 'last' });
    assert.equal(
      m.update(5 * MB, undefined, 1000),
      '5.0 MB written · 5.0 MB/s · past the estimate of 4.0 MB',
    );
  });

  it('durations read as a person says them', () => {
    assert.equal(humanDuration(0), '0 s');
    assert.equal(humanDuration(59.4), '59 s');
    assert.equal(humanDuration(245), '4 min 05 s');
    assert.equal(humanDuration(4800), '1 h 20 min');
  });
});

describe('the pipeline prints its size estimate and the bytes the compressor read (bash, dash, busybox ash)', function () {
  this.timeout(60_000);
  const have = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
  const shells = (
    [
      ['bash', ['bash', '-s']],
      ['dash', ['dash', '-s']],
      ['busybox ash', ['busybox', 'ash', '-s']],
    ] as [string, string[]][]
  ).filter(([, cmd]) => have(cmd[0]));
  let work: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-progress-'));
    const bin = path.join(work, 'bin');
    fs.mkdirSync(bin);
    // A dump that takes 2.5 s (so the once-a-second progress lines come), and a
    // psql that reports the database's size as PostgreSQL's pg_database_size would.
    fs.writeFileSync(
      path.join(bin, 'pg_dump'),
      '#!/bin/sh\nhead -c 3000000 /dev/urandom\nsleep 2.5\nhead -c 1000000 /dev/urandom\n',
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(bin, 'psql'), '#!/bin/sh\necho 8000000\n', { mode: 0o755 });
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const [name, shell] of shells) {
    it(`${name}: the database's size before the dump, the bytes read while it runs, the last backup's size next time`, async () => {
      const dir = path.join(work, name.replace(/\W/g, ''));
      const runner = localRunner({
        shell,
        env: { ...process.env, PATH: `${path.join(work, 'bin')}:${process.env.PATH}` },
      });
      const target: BackupTarget = {
        server: { name: 'web-1', backupDir: dir },
        database: {
          name: 'shop',
          engine: 'postgres',
          mode: 'host',
          dbHost: '127.0.0.1',
          dbPort: 5555,
          dbUser: 'app',
          dbName: 'shop',
        },
      };
      const estimates: SizeEstimate[] = [];
      const reads: number[] = [];
      const first = await backUpNow(runner, target, {
        onEstimate: (e) => estimates.push(e),
        onProgress: (_bytes, { read }) => {
          if (read !== undefined) reads.push(read);
        },
      });
      assert.deepEqual(estimates, [{ bytes: 8_000_000, from: 'database' }]);
      assert.ok(
        reads.some((r) => r >= 3_000_000),
        `the compressor had read the first 3 MB by the second progress line: ${reads.join(', ')}`,
      );
      estimates.length = 0;
      await backUpNow(runner, target, { onEstimate: (e) => estimates.push(e) });
      assert.deepEqual(estimates, [
        { bytes: 8_000_000, from: 'database' },
        { bytes: first.size, from: 'last' },
      ]);
    });
  }
});
