// Encrypted backups with age: the server gets only the recipient (a public
// key: `age1…`, or an `ssh-ed25519 …` key the user brings), so scheduled runs
// encrypt with no secret on the server; the identity (the private key,
// `AGE-SECRET-KEY-1…`) stays on this computer and travels only inside a
// restore's script (remote/sh/restore.sh reads it through a FIFO).
import * as fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { BackupError, shortKey } from './errors';

// Bech32 (lower case, no 1 b i o in the data part), as age prints them.
const AGE_RECIPIENT_RE = /^age1[02-9ac-hj-np-z]{58}$/;
const SSH_RECIPIENT_RE = /^ssh-ed25519 [A-Za-z0-9+/]{68}(?: [^\s'"\\]{1,100})?$/;
const AGE_IDENTITY_RE = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

/** Why a recipient cannot be used (one sentence), or undefined when it can. */
export function recipientProblem(text: string): string | undefined {
  const r = text.trim();
  if (AGE_RECIPIENT_RE.test(r) || SSH_RECIPIENT_RE.test(r)) return undefined;
  if (r.startsWith('AGE-SECRET-KEY-'))
    return 'That is a private key (an identity): give its public key, the age1… recipient (age-keygen -y prints it)';
  return 'A recipient is an age public key (age1 followed by 58 letters and digits) or an ssh-ed25519 public key line';
}

/** The recipient, checked; throws the sentence otherwise. */
export function checkRecipient(text: string): string {
  const problem = recipientProblem(text);
  if (problem) throw new BackupError('invalid-input', `Encryption recipient: ${problem}`);
  return text.trim();
}

// An unencrypted OpenSSH private key file, as ssh-keygen writes it.
const SSH_IDENTITY_RE =
  /^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]{40,4000}\n-----END OPENSSH PRIVATE KEY-----$/;

/** The identities, checked (one per line in the script); throws before any script exists. */
export function checkIdentities(ids: readonly string[]): string[] {
  return ids.map((id) => {
    if (!AGE_IDENTITY_RE.test(id) && !SSH_IDENTITY_RE.test(id))
      throw new BackupError(
        'invalid-input',
        'A recovery key must be an age identity (AGE-SECRET-KEY-1 followed by 58 letters and digits)',
      );
    return id;
  });
}

/**
 * The private key for a backup encrypted to an ssh-ed25519 recipient, read
 * from the key file the user picked: an OpenSSH private key without a
 * passphrase (age on the server cannot ask for one) whose public key is that
 * recipient. Returns the key text for the restore's script; throws the
 * sentence that says what is wrong otherwise.
 */
export function sshIdentity(text: string, recipient: string): string {
  const key = text.replace(/\r\n/g, '\n').trim();
  if (!SSH_IDENTITY_RE.test(key))
    throw new BackupError(
      'invalid-input',
      'That file is not an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----): pick the private key, not the .pub file',
    );
  const blob = Buffer.from(key.split('\n').slice(1, -1).join(''), 'base64');
  const magic = 'openssh-key-v1\0';
  let at = magic.length;
  const str = (): Buffer => {
    if (at + 4 > blob.length)
      throw new BackupError('invalid-input', 'That OpenSSH private key file is damaged');
    const n = blob.readUInt32BE(at);
    const v = blob.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return v;
  };
  if (blob.subarray(0, magic.length).toString('latin1') !== magic)
    throw new BackupError('invalid-input', 'That OpenSSH private key file is damaged');
  const cipher = str().toString('latin1');
  str(); // kdf name
  str(); // kdf options
  at += 4; // number of keys
  const pub = str();
  const want = recipient.split(' ')[1];
  if (pub.toString('base64') !== want)
    throw new BackupError(
      'invalid-input',
      `That private key is not the one for ${shortKey(recipient)}, the key this backup was encrypted for: pick its private key file`,
    );
  if (cipher !== 'none')
    throw new BackupError(
      'invalid-input',
      "That SSH key is protected by a passphrase, which age on the server cannot ask for: make an unprotected copy for the restore (cp key copy && ssh-keygen -p -N '' -f copy) and pick the copy",
    );
  return key;
}

/** The identities in an age identity file (age-keygen's format: comments, blank lines, one key per line). */
export function parseIdentityFile(text: string): string[] {
  const ids = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!ids.length)
    throw new BackupError('invalid-input', 'That file holds no age identity (AGE-SECRET-KEY-1…)');
  return checkIdentities(ids);
}

/** An identity file as age-keygen writes it, each key under its public key. */
export function identityFile(
  keys: readonly { identity: string; recipient: string }[],
  created: Date,
): string {
  const lines = [
    `# infrakt backup recovery keys, exported ${created.toISOString()}`,
    '# Without these keys the encrypted backups cannot be restored. Keep this file safe and private.',
  ];
  for (const k of keys) lines.push(`# public key: ${k.recipient}`, k.identity);
  return `${lines.join('\n')}\n`;
}

/** age-encryption (by age's author): the X25519 keys, made and read on this computer only. */
async function ageLib() {
  return import('age-encryption');
}

export async function newIdentity(): Promise<{ identity: string; recipient: string }> {
  const age = await ageLib();
  const identity = await age.generateIdentity();
  return { identity, recipient: await age.identityToRecipient(identity) };
}

export async function recipientOf(identity: string): Promise<string> {
  return (await ageLib()).identityToRecipient(checkIdentities([identity])[0]);
}

/**
 * Decrypts a downloaded .age backup on this computer into `dest` (streamed,
 * written as `<dest>.partial` and renamed when complete). age authenticates
 * every chunk: a tampered or truncated file fails, and nothing is kept.
 */
export async function decryptFile(
  src: string,
  dest: string,
  identities: readonly string[],
  /** The key it was encrypted for (its .sha256 says), to name in a refusal. */
  recipient?: string,
): Promise<void> {
  const age = await ageLib();
  const notHere = recipient
    ? `This backup was encrypted for key ${shortKey(recipient)}, which is not on this computer — import its recovery key (Infrakt: Import Recovery Key…)`
    : undefined;
  if (!identities.length)
    throw new BackupError(
      'decrypt',
      notHere ??
        'This backup is encrypted and there is no recovery key on this computer — import it (Infrakt: Import Recovery Key…)',
    );
  const d = new age.Decrypter();
  for (const id of checkIdentities(identities)) d.addIdentity(id);
  const partial = `${dest}.partial`;
  try {
    const input = Readable.toWeb(fs.createReadStream(src)) as unknown as ReadableStream<Uint8Array>;
    let plain: ReadableStream<Uint8Array>;
    try {
      plain = await d.decrypt(input);
    } catch (err) {
      throw new BackupError(
        'decrypt',
        notHere ??
          `None of the recovery keys on this computer opens this backup (${err instanceof Error ? err.message : String(err)}) — import the recovery key it was encrypted for (Infrakt: Import Recovery Key…)`,
      );
    }
    await plain.pipeTo(Writable.toWeb(fs.createWriteStream(partial, { mode: 0o600 })));
    fs.renameSync(partial, dest);
  } finally {
    fs.rmSync(partial, { force: true });
  }
}
