// An SshEnvironment for tests: no stored secrets, every new host trusted (and
// recorded, so a test can check what was asked), short timeouts.
import type { Server } from '../../src/core/model';
import type { HostKeyInfo, SshEnvironment } from '../../src/ssh/connectionPool';
import type { SshServer } from '../world/sshServer';

export function testEnv(
  overrides: Partial<SshEnvironment> = {},
): SshEnvironment & { asked: HostKeyInfo[]; known: Map<string, string> } {
  const known = new Map<string, string>();
  const asked: HostKeyInfo[] = [];
  return {
    asked,
    known,
    getPassword: async () => undefined,
    getPassphrase: async () => undefined,
    knownFingerprint: (host, port) => known.get(`${host}:${port}`),
    confirmNewHost: async (info) => {
      asked.push(info);
      return true;
    },
    trustHost: (info) => known.set(`${info.host}:${info.port}`, info.fingerprint),
    connectTimeoutMs: () => 10_000,
    idleMs: () => 60_000,
    ...overrides,
  };
}

/** The test world's sshd as a server row: root with the world's client key. */
export function keyServer(sshd: Pick<SshServer, 'port' | 'clientKeyPath'>, backupDir: string): Server {
  return {
    id: 'srv-1',
    name: 'web-1',
    host: '127.0.0.1',
    port: sshd.port,
    user: 'root',
    auth: 'key',
    keyPath: sshd.clientKeyPath,
    backupDir,
    createdAt: '',
    updatedAt: '',
  };
}
