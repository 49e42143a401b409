// S3 retention over what an S3 listing really holds after failed runs: objects
// without their .sha256 object are not backups and can never be kept in place
// of one.
import * as assert from 'node:assert/strict';
import { s3RetentionVictims } from '../../src/core/retention';
import { type S3Object, mergeBackupLocations } from '../../src/core/s3Layout';

const name = (day: number) => `web-1_shop_postgres_202611${String(day).padStart(2, '0')}T020000Z.dump.zst`;
const obj = (filename: string, size = 1000): S3Object => ({
  key: `p/shop/${filename}`,
  filename,
  sizeBytes: size,
  modified: new Date('2026-11-30T00:00:00Z'),
});
const backup = (day: number) => [obj(name(day)), obj(`${name(day)}.sha256`, 64)];

describe('S3 retention counts only verified backups', () => {
  it('keep newest 2: two failed runs (objects without .sha256) do not push the real backups out', () => {
    const listing = [
      ...backup(20),
      ...backup(21),
      ...backup(22),
      obj(name(23), 13),
      obj(name(24), 117_186_560),
    ];
    const entries = mergeBackupLocations([], listing);
    assert.deepEqual(
      entries.map((e) => e.filename),
      [name(22), name(21), name(20)],
      'the unfinished uploads are not listed',
    );
    assert.deepEqual(s3RetentionVictims(entries, 2, name(22)), [name(20)]);
  });

  it('a just-uploaded backup that lacks its commit mark is not there yet: nothing is deleted', () => {
    const entries = mergeBackupLocations([], [...backup(20), ...backup(21), obj(name(22))]);
    assert.deepEqual(s3RetentionVictims(entries, 1, name(22)), []);
  });

  it('a local-only copy with a checksum is not an S3 backup and is never an S3 victim', () => {
    const local = [{ filename: name(19), sizeBytes: 5, modified: new Date(), hasChecksum: true }];
    const entries = mergeBackupLocations(local, [...backup(20), ...backup(21), ...backup(22)]);
    assert.deepEqual(s3RetentionVictims(entries, 1, name(22)), [name(21), name(20)]);
  });
});
