// Secrets assembled for one remote action, straight from SecretStorage: the S3
// credentials (settings row + secret), a database's backup target, the
// encryption recipient and recovery keys, and the alert destinations.
import type { BackupTarget } from '../core/backup';
import { type AlertSecret, type AlertTarget, alertSecret } from '../core/alerts/destinations';
import type { Database, Server } from '../core/model';
import type { S3Credentials } from '../core/s3/scripts';
import { secretKeys } from '../core/secrets';
import type { Services } from './services';

export type S3Access =
  | { state: 'off' }
  | { state: 'ready'; creds: S3Credentials }
  /** Settings exist, but this machine has no secret for them (another machine saved them). */
  | { state: 'no-secret'; message: string };

export async function s3Access(services: Services): Promise<S3Access> {
  const settings = services.store.getS3Settings();
  if (!settings) return { state: 'off' };
  const secretKey = await services.secrets.get(secretKeys.s3Secret());
  if (!secretKey)
    return {
      state: 'no-secret',
      message: 'the S3 secret key is not stored on this machine — enter it in S3 Settings',
    };
  return { state: 'ready', creds: { settings, secretKey } };
}

export async function backupTarget(
  services: Services,
  server: Server,
  database: Database,
): Promise<{ target: BackupTarget; secrets: string[] }> {
  const password =
    database.mode === 'host' ? await services.secrets.get(secretKeys.database(database.id)) : undefined;
  return {
    target: {
      server: { name: server.name, backupDir: server.backupDir },
      database,
      password: password ? { kind: 'inline', password } : { kind: 'none' },
    },
    secrets: password ? [password] : [],
  };
}

/** Every identity this computer holds (for a restore: age tries each). */
export async function recoveryKeys(services: Services): Promise<string[]> {
  const text = (await services.secrets.get(secretKeys.ageIdentities())) ?? '';
  return text.split('\n').filter(Boolean);
}

/** The recipient backups are encrypted to now; undefined when encryption is off. */
export function encryptionRecipient(services: Services): string | undefined {
  return services.store.getEncryption()?.recipient;
}

/**
 * The alert destinations with their URLs and tokens, from SecretStorage.
 * A destination whose secret is not on this computer (saved on another one)
 * is named in `missing` and left out.
 */
export async function alertTargets(
  services: Services,
): Promise<{ targets: AlertTarget[]; missing: string[] }> {
  const targets: AlertTarget[] = [];
  const missing: string[] = [];
  for (const d of services.store.listAlertDestinations()) {
    const raw = await services.secrets.get(secretKeys.alert(d.id));
    let secret: AlertSecret | undefined;
    try {
      const r = alertSecret.safeParse(raw ? JSON.parse(raw) : undefined);
      secret = r.success ? r.data : undefined;
    } catch {
      secret = undefined;
    }
    if (secret) targets.push({ ...d, ...secret });
    else missing.push(d.name);
  }
  return { targets, missing };
}
