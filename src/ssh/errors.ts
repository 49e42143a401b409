// What can go wrong with SSH, as errors that name the cause and the next step.
import type { Server } from '../core/model';

export type SshErrorKind =
  | 'refused'
  | 'timeout'
  | 'dns'
  | 'auth'
  | 'key-unreadable'
  | 'passphrase'
  | 'host-key-changed'
  | 'host-key-revoked'
  | 'host-key-rejected'
  | 'dropped'
  | 'cancelled'
  | 'other';

export class SshError extends Error {
  override readonly name: string;
  constructor(
    readonly kind: SshErrorKind,
    message: string,
  ) {
    super(message);
    this.name = kind === 'cancelled' ? 'AbortError' : 'SshError';
  }
}

export const cancelled = () => new SshError('cancelled', 'Cancelled');

export type ClientError = Error & { level?: string; code?: string };

export function mapSshError(server: Server, err: ClientError, tried: string[]): SshError {
  const where = `${server.user}@${server.host}:${server.port}`;
  if (err.level === 'client-authentication') {
    return new SshError(
      'auth',
      `Authentication rejected by ${server.name} (${where}; tried: ${tried.join(', ') || 'none'}) — check the user and ${server.auth === 'password' ? 'password' : 'key'}, or run Edit Server`,
    );
  }
  if (err.level === 'client-timeout' || /Timed out while waiting for handshake/.test(err.message)) {
    return new SshError(
      'timeout',
      `Timed out connecting to ${server.name} (${where}) — check the host and port, and that the server is up`,
    );
  }
  switch (err.code) {
    case 'ECONNREFUSED':
      return new SshError(
        'refused',
        `Connection refused by ${server.name} (${where}) — is sshd running on port ${server.port}?`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SshError('dns', `Cannot resolve ${server.host} for ${server.name} — check the host name`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SshError(
        'timeout',
        `Cannot reach ${server.name} (${where}): ${err.code} — check the network and firewall`,
      );
    case 'ECONNRESET':
      return new SshError('dropped', `${server.name} closed the connection (${where}) — try again`);
  }
  return new SshError('other', `SSH to ${server.name} (${where}) failed: ${err.message}`);
}
