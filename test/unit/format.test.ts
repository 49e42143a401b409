import * as assert from 'node:assert/strict';
import { humanAge, humanSize } from '../../src/core/format';

describe('format', () => {
  it('sizes', () => {
    assert.equal(humanSize(0), '0 B');
    assert.equal(humanSize(1023), '1023 B');
    assert.equal(humanSize(1536), '1.5 KB');
    assert.equal(humanSize(2516582), '2.4 MB');
    assert.equal(humanSize(500 * 1024 ** 3), '500 GB');
    assert.equal(humanSize(-1), '?');
  });
  it('ages', () => {
    const now = new Date('2026-11-24T12:00:00Z');
    assert.equal(humanAge(new Date('2026-11-24T11:59:30Z'), now), 'just now');
    assert.equal(humanAge(new Date('2026-11-24T11:15:00Z'), now), '45 min ago');
    assert.equal(humanAge(new Date('2026-11-24T09:00:00Z'), now), '3 h ago');
    assert.equal(humanAge(new Date('2026-11-20T12:00:00Z'), now), '4 days ago');
  });
});
