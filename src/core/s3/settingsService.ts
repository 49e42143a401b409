// The S3 settings as the settings page sees them: read, save and remove, with
// no HTTP in between. The row lives in the config store,
// the secret in SecretStorage; no reply ever carries the secret.
import type { S3Settings, S3SettingsFields } from '../model';
import { unfilledPlaceholders } from './presets';
import { type FieldErrors, type S3SettingsParsed, endpointWarning, validateS3Save } from './settings';
import { type Secrets, secretKeys } from '../secrets';

export const S3_SAVED_MESSAGE = 'S3 configuration saved';
export const S3_REMOVED_MESSAGE = 'S3 configuration removed';

/** The part of the config store this service needs (ConfigStore satisfies it). */
export interface S3SettingsRepository {
  getS3Settings(): S3Settings | undefined;
  saveS3Settings(fields: S3SettingsFields): S3Settings;
  removeS3Settings(): void;
}

/** The last Test Connection of the stored settings: when, from which server, and what it said. */
export interface S3LastTest {
  ok: boolean;
  /** ISO time. */
  at: string;
  server: string;
  message: string;
}

/** A test as it is kept: with the settings it tested (S3SettingsService.fingerprint), so a change makes it stale. */
export type S3TestRecord = S3LastTest & { settings: string };

/** Where the last test is kept (the extension's global state in the product). */
export interface S3TestLog {
  get(): S3TestRecord | undefined;
  set(value: S3TestRecord | undefined): PromiseLike<void>;
}

/**
 * Every stored field except the secret; `hasSecretKey` says whether one is
 * stored, `lastTest` how the last Test Connection of exactly these settings went.
 */
export type ConfiguredS3View = S3SettingsFields & {
  configured: true;
  hasSecretKey: boolean;
  lastTest?: S3LastTest;
};
export type S3SettingsView = { configured: false } | ConfiguredS3View;

export interface S3Validation {
  errors: FieldErrors;
  /** Not an error: e.g. plain http to a non-loopback host. */
  warning?: string;
}

export type S3SaveResult =
  | { ok: true; message: string; settings: ConfiguredS3View; warning?: string }
  | ({ ok: false } & S3Validation);

export class S3SettingsService {
  constructor(
    private readonly store: S3SettingsRepository,
    private readonly secrets: Secrets,
    private readonly tests?: S3TestLog,
  ) {}

  /** What a test result is tied to: every field that decides where and how S3 is reached. */
  static fingerprint(
    s: Pick<
      S3SettingsFields,
      'endpointUrl' | 'bucket' | 'region' | 'accessKey' | 'prefix' | 'pathStyle' | 'checksumWhenRequired'
    >,
  ): string {
    return JSON.stringify([
      s.endpointUrl,
      s.bucket,
      s.region,
      s.accessKey,
      s.prefix,
      s.pathStyle,
      s.checksumWhenRequired,
    ]);
  }

  async read(): Promise<S3SettingsView> {
    const row = this.store.getS3Settings();
    if (!row) return { configured: false };
    return toView(row, await this.hasStoredSecret(), this.lastTestOf(row));
  }

  /** Keeps a Test Connection's outcome with the settings it tested. */
  async recordTest(tested: S3SettingsFields, outcome: S3LastTest): Promise<void> {
    await this.tests?.set({ ...outcome, settings: S3SettingsService.fingerprint(tested) });
  }

  private lastTestOf(row: S3SettingsFields): S3LastTest | undefined {
    const t = this.tests?.get();
    if (!t || t.settings !== S3SettingsService.fingerprint(row)) return undefined;
    return { ok: t.ok, at: t.at, server: t.server, message: t.message };
  }

  /** What a save of `input` would say, without saving (the page validates as you type). */
  async validate(input: unknown): Promise<S3Validation> {
    const configured = this.store.getS3Settings() !== undefined;
    return this.check(input, configured && (await this.hasStoredSecret()), configured).validation;
  }

  /** Creates or updates the single row; a blank secret on update keeps the stored one. */
  async save(input: unknown): Promise<S3SaveResult> {
    const configured = this.store.getS3Settings() !== undefined;
    const keepSecret = configured && (await this.hasStoredSecret());
    const { validation, value } = this.check(input, keepSecret, configured);
    if (!value) return { ok: false, ...validation };
    const { secretKey, ...fields } = value;
    // Secret first: if SecretStorage fails (no keyring on Linux, say), nothing is
    // saved and the page never shows "Connected" for settings without a secret.
    if (secretKey !== '') await this.secrets.set(secretKeys.s3Secret(), secretKey);
    const row = this.store.saveS3Settings(fields);
    // The last test was of what was there before (a new secret, other fields): no longer true.
    await this.tests?.set(undefined);
    return { ok: true, message: S3_SAVED_MESSAGE, settings: toView(row, true), warning: validation.warning };
  }

  /** Deletes the row and the secret; not an error when nothing is configured. */
  async remove(): Promise<{ message: string }> {
    this.store.removeS3Settings();
    await this.secrets.delete(secretKeys.s3Secret());
    await this.tests?.set(undefined);
    return { message: S3_REMOVED_MESSAGE };
  }

  private async hasStoredSecret(): Promise<boolean> {
    return (await this.secrets.get(secretKeys.s3Secret())) !== undefined;
  }

  private check(
    input: unknown,
    hasStoredSecret: boolean,
    configured: boolean,
  ): { validation: S3Validation; value?: S3SettingsParsed } {
    const endpoint = stringField(input, 'endpointUrl');
    const warning = endpoint === undefined ? undefined : endpointWarning(endpoint);
    const r = validateS3Save(input, hasStoredSecret);
    const errors: FieldErrors = r.ok ? {} : { ...r.errors };
    // validateS3Save reports a missing secret only when every other field is
    // valid; the page shows all the problems at once, and says why when the
    // settings exist but their secret is gone (SecretStorage is per machine).
    if (!hasStoredSecret && (stringField(input, 'secretKey') ?? '').trim() === '') {
      errors.secretKey = configured
        ? 'Secret key is required: none is stored on this computer'
        : 'Secret key is required the first time you save';
    }
    const placeholders = endpoint === undefined ? [] : unfilledPlaceholders(endpoint);
    if (placeholders.length > 0) {
      errors.endpointUrl = `Replace ${placeholders.join(' and ')} in the endpoint URL with your own value`;
    }
    if (!r.ok || Object.keys(errors).length > 0) return { validation: { errors, warning } };
    return { validation: { errors, warning }, value: r.value };
  }
}

function stringField(input: unknown, name: string): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const v: unknown = (input as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

function toView(row: S3Settings, hasSecretKey: boolean, lastTest?: S3LastTest): ConfiguredS3View {
  return {
    configured: true,
    endpointUrl: row.endpointUrl,
    bucket: row.bucket,
    region: row.region,
    accessKey: row.accessKey,
    prefix: row.prefix,
    provider: row.provider,
    pathStyle: row.pathStyle,
    checksumWhenRequired: row.checksumWhenRequired,
    hasSecretKey,
    ...(lastTest ? { lastTest } : {}),
  };
}
