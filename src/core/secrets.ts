// One naming scheme for every secret the extension keeps. The backend is VS
// Code's SecretStorage in the product and an in-memory map in unit tests.
export interface SecretBackend {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

export type ServerSecretKind = 'password' | 'passphrase';

export const secretKeys = {
  server: (serverId: string, kind: ServerSecretKind) => `infrakt.server.${serverId}.${kind}`,
  database: (databaseId: string) => `infrakt.database.${databaseId}.password`,
  s3Secret: () => 'infrakt.s3.secretKey',
  /** Every age identity this computer holds (one per line): new and old keys, for old backups. */
  ageIdentities: () => 'infrakt.age.identities',
  /** An alert destination's URL and token (JSON): they authorize posting. */
  alert: (destinationId: string) => `infrakt.alert.${destinationId}`,
};

export class Secrets {
  constructor(private readonly backend: SecretBackend) {}

  async get(key: string): Promise<string | undefined> {
    const v = await this.backend.get(key);
    return v === '' ? undefined : v;
  }

  async set(key: string, value: string): Promise<void> {
    await this.backend.store(key, value);
  }

  async delete(key: string): Promise<void> {
    await this.backend.delete(key);
  }

  /** Everything stored for a server and its databases. */
  async deleteServerSecrets(serverId: string, databaseIds: readonly string[]): Promise<void> {
    const keys = [
      secretKeys.server(serverId, 'password'),
      secretKeys.server(serverId, 'passphrase'),
      ...databaseIds.map((id) => secretKeys.database(id)),
    ];
    await Promise.all(keys.map((k) => this.backend.delete(k)));
  }
}

/** For unit tests and tools: SecretStorage semantics over a Map. */
export class MemorySecretBackend implements SecretBackend {
  readonly values = new Map<string, string>();
  async get(key: string) {
    return this.values.get(key);
  }
  async store(key: string, value: string) {
    this.values.set(key, value);
  }
  async delete(key: string) {
    this.values.delete(key);
  }
}
