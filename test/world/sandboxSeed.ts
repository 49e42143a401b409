// Seeding the extension's store for the sandbox, through the store's own code: the
// sandbox server, its database and the S3 settings, updated in place on later runs.
import type { DatabaseInput, S3SettingsFields, ServerInput } from '../../src/core/model';
import { ConfigStore } from '../../src/store/configStore';
import { WASM_PATH } from '../support/paths';
import { SANDBOX_DATABASE_NAME, SANDBOX_SERVER_NAME, type SandboxWorld } from './sandbox';

export interface SeedResult {
  serverId: string;
  databaseId: string;
  /** What changed, one line each ("server sandbox: added", ...). */
  changes: string[];
  /** The store file was unreadable and moved aside (a fresh one was created). */
  movedAside?: string;
}

/**
 * Seeds the extension's store through its own store code: the "sandbox" server (trusted
 * host key), its host-mode PostgreSQL database "shop", and the S3 settings. Existing rows
 * of the sandbox are updated (ports change between runs); rows the user added are kept,
 * and S3 settings that point somewhere else than a local s3rver are left alone.
 */
export async function seedStore(
  file: string,
  world: SandboxWorld,
  opts: { wasmPath?: string } = {},
): Promise<SeedResult> {
  const { store, movedAside } = await ConfigStore.open(file, { wasmPath: opts.wasmPath ?? WASM_PATH });
  const changes: string[] = [];
  try {
    const serverInput: ServerInput = {
      name: SANDBOX_SERVER_NAME,
      host: world.ssh.host,
      port: world.ssh.port,
      user: world.user,
      auth: 'key',
      keyPath: world.ssh.keyPath,
      backupDir: world.backupDir,
    };
    const existing = store
      .listServers()
      .find((s) => s.name.toLowerCase() === SANDBOX_SERVER_NAME.toLowerCase());
    let server;
    try {
      if (!existing) {
        server = store.addServer(serverInput);
        changes.push(`server ${SANDBOX_SERVER_NAME}: added`);
      } else if (
        existing.host !== serverInput.host ||
        existing.port !== serverInput.port ||
        existing.user !== serverInput.user ||
        existing.auth !== 'key' ||
        existing.keyPath !== serverInput.keyPath ||
        existing.backupDir !== serverInput.backupDir
      ) {
        server = store.updateServer(existing.id, serverInput);
        changes.push(`server ${SANDBOX_SERVER_NAME}: updated (port ${existing.port} → ${server.port})`);
      } else {
        server = existing;
      }
    } catch (err) {
      throw new Error(
        `cannot store the sandbox server (backup dir ${world.backupDir}): ${err instanceof Error ? err.message : String(err)}`,
      );
    }

    // The host key: trusted on the new port; the row of an old port goes when it was this sshd's.
    const known = store.getKnownHost(world.ssh.host, world.ssh.port);
    if (known?.fingerprint !== world.ssh.hostKeyFingerprint || known.keyType !== world.ssh.hostKeyType) {
      store.trustHost({
        host: world.ssh.host,
        port: world.ssh.port,
        keyType: world.ssh.hostKeyType,
        fingerprint: world.ssh.hostKeyFingerprint,
      });
      changes.push(`host key of 127.0.0.1:${world.ssh.port}: trusted (${world.ssh.hostKeyFingerprint})`);
    }
    if (existing && existing.host === world.ssh.host && existing.port !== world.ssh.port) {
      const old = store.getKnownHost(existing.host, existing.port);
      if (old && old.fingerprint === world.ssh.hostKeyFingerprint)
        store.forgetHost(existing.host, existing.port);
    }

    // The database. The store has no update for databases: a changed one is removed and added
    // again under the same name (its backup files are found by name; its history rows stay behind).
    const dbInput: DatabaseInput = {
      serverId: server.id,
      name: SANDBOX_DATABASE_NAME,
      engine: 'postgres',
      mode: 'host',
      dbHost: world.postgres.host,
      dbPort: world.postgres.port,
      dbUser: world.postgres.user,
      dbName: world.postgres.database,
    };
    const oldDb = store.listDatabases(server.id).find((d) => d.name === SANDBOX_DATABASE_NAME);
    let database;
    if (!oldDb) {
      database = store.addDatabase(dbInput);
      changes.push(`database ${SANDBOX_DATABASE_NAME}: added`);
    } else if (
      oldDb.engine !== 'postgres' ||
      oldDb.mode !== 'host' ||
      oldDb.dbHost !== dbInput.dbHost ||
      oldDb.dbPort !== dbInput.dbPort ||
      oldDb.dbUser !== dbInput.dbUser ||
      oldDb.dbName !== dbInput.dbName
    ) {
      store.removeDatabase(oldDb.id);
      database = store.addDatabase(dbInput);
      changes.push(
        `database ${SANDBOX_DATABASE_NAME}: updated (port ${oldDb.dbPort ?? '-'} → ${database.dbPort})`,
      );
    } else {
      database = oldDb;
    }

    // S3 settings: a single row. Replace it only when it is missing or is a local s3rver's.
    const s3Fields: S3SettingsFields = {
      endpointUrl: world.s3.endpointUrl,
      bucket: world.s3.bucket,
      region: world.s3.region,
      accessKey: world.s3.accessKey,
      prefix: '',
      provider: 'other',
      pathStyle: true,
      checksumWhenRequired: true,
    };
    const s3 = store.getS3Settings();
    const isSandboxS3 = (u: string) => /^http:\/\/127\.0\.0\.1:\d+$/.test(u);
    if (!s3) {
      store.saveS3Settings(s3Fields);
      changes.push(`S3 settings: added (${s3Fields.endpointUrl}, bucket ${s3Fields.bucket})`);
    } else if (isSandboxS3(s3.endpointUrl) && s3.bucket === world.s3.bucket) {
      const same = (Object.keys(s3Fields) as (keyof S3SettingsFields)[]).every((k) => s3[k] === s3Fields[k]);
      if (!same) {
        store.saveS3Settings(s3Fields);
        changes.push(`S3 settings: updated (${s3.endpointUrl} → ${s3Fields.endpointUrl})`);
      }
    } else {
      changes.push(
        `S3 settings: kept yours (${s3.endpointUrl}, bucket ${s3.bucket}); the sandbox's s3rver is unused`,
      );
    }
    return { serverId: server.id, databaseId: database.id, changes, movedAside: movedAside?.path };
  } finally {
    store.dispose();
  }
}
