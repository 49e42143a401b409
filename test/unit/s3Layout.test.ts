import * as assert from 'node:assert/strict';
import { mergeBackupLocations, s3Key } from '../../src/core/s3/layout';

describe('S3 layout and listing', () => {
  it('uses the seed key layout <prefix><db>/<filename>', () => {
    assert.equal(
      s3Key('infrakt/', 'mydb', 'mydb_20260228_020000.sql.gz'),
      'infrakt/mydb/mydb_20260228_020000.sql.gz',
    );
    assert.equal(s3Key('', 'mydb', 'f.gz'), 'mydb/f.gz');
  });

  it('merges local and S3 into local | s3 | both, newest first', () => {
    const d = (s: string) => new Date(s);
    const merged = mergeBackupLocations(
      [
        { filename: 'a', sizeBytes: 1, modified: d('2026-01-01T00:00:00Z'), hasChecksum: true },
        { filename: 'b', sizeBytes: 2, modified: d('2026-01-02T00:00:00Z'), hasChecksum: true },
      ],
      [
        { key: 'x/b', filename: 'b', sizeBytes: 2, modified: d('2026-01-02T00:00:01Z') },
        { key: 'x/b.sha256', filename: 'b.sha256', sizeBytes: 64, modified: d('2026-01-02T00:00:01Z') },
        { key: 'x/c', filename: 'c', sizeBytes: 3, modified: d('2026-01-03T00:00:00Z') },
        { key: 'x/c.sha256', filename: 'c.sha256', sizeBytes: 64, modified: d('2026-01-03T00:00:00Z') },
      ],
    );
    assert.deepEqual(
      merged.map((m) => [m.filename, m.location, m.hasChecksum]),
      [
        ['c', 's3', true],
        ['b', 'both', true],
        ['a', 'local', true],
      ],
    );
  });

  it('an S3 object without its .sha256 object is an unfinished upload: not a backup, not "S3 + Local"', () => {
    const d = (s: string) => new Date(s);
    const s3 = [
      // a truncated upload of a dropped run, newer than the real backup
      { key: 'x/new', filename: 'new', sizeBytes: 13, modified: d('2026-01-05T00:00:00Z') },
      // a local file whose upload failed half-way
      { key: 'x/a', filename: 'a', sizeBytes: 9, modified: d('2026-01-01T00:00:05Z') },
      { key: 'x/old', filename: 'old', sizeBytes: 3, modified: d('2026-01-03T00:00:00Z') },
      { key: 'x/old.sha256', filename: 'old.sha256', sizeBytes: 64, modified: d('2026-01-03T00:00:00Z') },
    ];
    const merged = mergeBackupLocations(
      [{ filename: 'a', sizeBytes: 1, modified: d('2026-01-01T00:00:00Z'), hasChecksum: true }],
      s3,
    );
    assert.deepEqual(
      merged.map((m) => [m.filename, m.location]),
      [
        ['old', 's3'],
        ['a', 'local'],
      ],
    );
  });
});
