import * as assert from 'node:assert/strict';
import { type RunOptions, lineSplitter, redact, runRedacted } from '../../src/core/remote/runner';

describe('remote helpers', () => {
  it('redacts every occurrence of each secret', () => {
    assert.equal(redact("export X='CANARY-1'; echo CANARY-1", ['CANARY-1']), "export X='***'; echo ***");
    assert.equal(redact('abc', ['ab']), 'abc');
  });

  it('redacts the shell-quoted form of a secret, as xtrace prints it', () => {
    const secret = "pa'ss-CANARY";
    // What bash's `set -x` prints for X="pa'ss-CANARY".
    assert.equal(redact(`+ X='pa'\\''ss-CANARY'`, [secret]), "+ X='***'");
    assert.equal(redact(`{"password":"say \\"hi\\" CANARY"}`, ['say "hi" CANARY']), '{"password":"***"}');
  });

  it('replaces the longest secret first: a secret inside another leaves nothing of the longer one', () => {
    const short = 'CANARY';
    const long = 'prefix-CANARY-suffix';
    for (const order of [
      [short, long],
      [long, short],
    ])
      assert.equal(redact(`a=${long} b=${short}`, order), 'a=*** b=***');
  });

  it('redacts a secret with a line break, whole and line by line', () => {
    const secret = 'first-CANARY\nsecond-CANARY';
    assert.equal(redact(`x ${secret} y`, [secret]), 'x *** y');
    assert.equal(redact('log: first-CANARY', [secret]), 'log: ***');
    assert.equal(redact('log: second-CANARY', [secret]), 'log: ***');
  });

  it('runRedacted: the callbacks get whole redacted lines; the result, stdout, stderr and a thrown error are redacted', async () => {
    const secret = 'CANARY-7f3a';
    const out: string[] = [];
    const err: string[] = [];
    const r = await runRedacted(
      { secrets: [secret], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) },
      async (o: RunOptions) => {
        // A secret split across chunks must still be redacted in what the callbacks get.
        o.onStdout?.('one CAN');
        o.onStdout?.('ARY-7f3a two\nthree ');
        o.onStdout?.(secret);
        o.onStderr?.(`error: bad password ${secret}\n`);
        return {
          code: 3,
          stdout: `one ${secret} two\nthree ${secret}`,
          stderr: `error: bad password ${secret}\n`,
        };
      },
    );
    assert.deepEqual(out, ['one *** two\n', 'three ***']);
    assert.deepEqual(err, ['error: bad password ***\n']);
    assert.equal(r.stdout, 'one *** two\nthree ***');
    assert.equal(r.stderr, 'error: bad password ***\n');
    assert.equal(r.code, 3);
    await assert.rejects(
      runRedacted({ secrets: [secret] }, async () => {
        throw new Error(`connection failed: ${secret}`);
      }),
      (e: Error) => e.message === 'connection failed: ***',
    );
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
