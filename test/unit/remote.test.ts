import * as assert from 'node:assert/strict';
import { lineSplitter, redact } from '../../src/core/remote/runner';

describe('remote helpers', () => {
  it('redacts every occurrence of each secret', () => {
    assert.equal(redact("export X='CANARY-1'; echo CANARY-1", ['CANARY-1']), "export X='***'; echo ***");
    assert.equal(redact('abc', ['ab']), 'abc');
  });
  it('splits chunks into whole lines', () => {
    const lines: string[] = [];
    const feed = lineSplitter((l) => lines.push(l));
    feed('a\nb');
    feed('c\n');
    feed('d');
    assert.deepEqual(lines, ['a', 'bc']);
  });
});
