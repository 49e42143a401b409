// Reads OpenSSH's known_hosts so a server the user already trusts with `ssh`
// is not asked about again (and a key that differs from it is refused).
// Supports plain and hashed (|1|salt|hash) host fields, [host]:port entries,
// glob patterns and negation. @cert-authority lines are skipped; a key on a
// @revoked line is returned marked revoked, and is refused however it is trusted.
import { createHash, createHmac } from 'node:crypto';
import { hostMatches } from './sshConfig';

export interface KnownKey {
  keyType: string;
  /** "SHA256:<base64 without padding>", as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** On a `@revoked` line: never to be accepted. */
  revoked?: true;
}

/** The name ssh looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hashedMatches(field: string, name: string): boolean {
  const parts = field.split('|'); // "", "1", salt, hash
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const hmac = createHmac('sha1', Buffer.from(parts[2], 'base64')).update(name).digest('base64');
  return hmac === parts[3];
}

export function knownHostKeys(text: string, host: string, port: number): KnownKey[] {
  const name = knownHostsName(host, port);
  const out: KnownKey[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const revoked = line.startsWith('@revoked ') || line.startsWith('@revoked\t');
    if (revoked) line = line.slice('@revoked'.length).trim();
    else if (line.startsWith('@')) continue; // @cert-authority: certificates are not used here
    const [hosts, keyType, blob] = line.split(/\s+/);
    if (!hosts || !keyType || !blob) continue;
    const matched = hosts.startsWith('|') ? hashedMatches(hosts, name) : hostMatches(hosts.split(','), name);
    if (!matched) continue;
    const key = Buffer.from(blob, 'base64');
    if (key.length === 0) continue;
    out.push({
      keyType,
      fingerprint: `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`,
      ...(revoked ? { revoked: true as const } : {}),
    });
  }
  return out;
}
