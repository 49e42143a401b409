// The keys of backup encryption as this computer makes and exports them,
// checked against the real age tool: a key made here encrypts with `age -r`
// and the exported file decrypts with `age -d -i`.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkIdentities,
  decryptFile,
  identityFile,
  newIdentity,
  parseIdentityFile,
  recipientOf,
  recipientProblem,
} from '../../src/core/backup/encryption';

describe('backup encryption keys (age)', () => {
  it('a key made here works with the age tool, through the exported file', async () => {
    const a = await newIdentity();
    const b = await newIdentity();
    assert.match(a.identity, /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    assert.equal(recipientProblem(a.recipient), undefined);
    assert.equal(await recipientOf(a.identity), a.recipient);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-age-'));
    try {
      const file = path.join(dir, 'keys.txt');
      const text = identityFile([a, b], new Date('2026-12-07T00:00:00Z'));
      assert.match(text, /cannot be restored/);
      fs.writeFileSync(file, text);
      assert.deepEqual(parseIdentityFile(text), [a.identity, b.identity]);
      const enc = spawnSync('age', ['-r', b.recipient], { input: 'backup bytes' });
      assert.equal(enc.status, 0, enc.stderr.toString());
      const dec = spawnSync('age', ['-d', '-i', file], { input: enc.stdout });
      assert.equal(dec.status, 0, dec.stderr.toString());
      assert.equal(dec.stdout.toString(), 'backup bytes');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what is not a key with one sentence', () => {
    assert.match(recipientProblem('AGE-SECRET-KEY-1ABC') ?? '', /private key/);
    assert.match(recipientProblem('age1 x') ?? '', /age public key/);
    assert.throws(() => parseIdentityFile('# only a comment\n\n'), /holds no age identity/);
    assert.throws(() => parseIdentityFile('age1notakey'), /must be an age identity/);
    assert.throws(() => checkIdentities(["AGE-SECRET-KEY-1'; reboot"]), /must be an age identity/);
  });

  it('Download… decrypts on this computer: the plain bytes, or nothing kept for a wrong key or a cut file', async () => {
    const key = await newIdentity();
    const other = await newIdentity();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-unit-age-'));
    try {
      const plain = Buffer.alloc(3 * 65536 + 123);
      for (let i = 0; i < plain.length; i++) plain[i] = (i * 7919) % 251;
      const src = path.join(dir, 'b.dump.zst.age');
      const enc = spawnSync('age', ['-r', key.recipient], { input: plain });
      fs.writeFileSync(src, enc.stdout);
      const dest = path.join(dir, 'b.dump.zst');
      await decryptFile(src, dest, [other.identity, key.identity]);
      assert.deepEqual(fs.readFileSync(dest), plain);
      assert.equal(fs.statSync(dest).mode & 0o777, 0o600);
      fs.rmSync(dest);
      await assert.rejects(
        decryptFile(src, dest, [other.identity]),
        /None of the recovery keys on this computer opens/,
      );
      await assert.rejects(decryptFile(src, dest, []), /no recovery key on this computer/);
      fs.writeFileSync(src, enc.stdout.subarray(0, enc.stdout.length - 100));
      await assert.rejects(decryptFile(src, dest, [key.identity]));
      assert.deepEqual(fs.readdirSync(dir), ['b.dump.zst.age'], 'nothing kept');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
