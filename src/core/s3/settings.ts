// S3 settings: one row (save creates or updates it,
// a blank secret on update keeps the stored one) with validation per field.
import { z } from 'zod';
import { LOOPBACK_HOSTS, isHttpUrl } from '../url';

export const endpointUrl = z
  .string()
  .trim()
  .min(1, 'Endpoint URL is required, e.g. https://s3.amazonaws.com')
  .refine(
    isHttpUrl,
    'Endpoint URL must start with https:// (or http://) and name a host, e.g. https://s3.amazonaws.com',
  )
  .refine((v) => !/[\s'"`$\\]/.test(v), 'Endpoint URL must not contain spaces, quotes, $ or backslashes')
  .transform((v) => v.replace(/\/+$/, ''));

export const bucketName = z
  .string()
  .trim()
  .min(3, 'Bucket name must be 3–63 characters')
  .max(63, 'Bucket name must be 3–63 characters')
  .regex(/^[a-z0-9.-]+$/, 'Bucket name may use only lowercase letters, digits, dots and hyphens')
  .regex(/^[a-z0-9].*[a-z0-9]$/, 'Bucket name must start and end with a lowercase letter or digit')
  .refine((v) => !v.includes('..'), 'Bucket name must not contain two dots in a row')
  .refine((v) => !/^\d+\.\d+\.\d+\.\d+$/.test(v), 'Bucket name must not look like an IP address');

export const regionName = z
  .string()
  .trim()
  .max(32, 'Region must be at most 32 characters')
  .regex(
    /^([a-z0-9]+(-[a-z0-9]+)*)?$/,
    'Region looks like us-east-1, eu-central-003 or auto: lowercase letters, digits and single hyphens',
  );

const credential = (label: string) =>
  z
    .string()
    .trim()
    .max(256, `${label} must be at most 256 characters`)
    .refine((v) => !/\s/.test(v), `${label} must not contain spaces or line breaks`)
    .refine((v) => /^[\x21-\x7e]*$/.test(v), `${label} may use only printable ASCII characters`);

export const accessKey = credential('Access key').refine((v) => v.length > 0, 'Access key is required');
export const secretKey = credential('Secret key');

export const pathPrefix = z
  .string()
  .trim()
  .max(200, 'Path prefix must be at most 200 characters')
  .regex(/^[A-Za-z0-9._/-]*$/, 'Path prefix may use letters, digits, . _ - and /')
  .transform(normalisePrefix)
  .refine((v) => !v.split('/').includes('..'), 'Path prefix must not contain ".."');

/** No leading slash, no empty segments, exactly one trailing slash when non-empty. */
export function normalisePrefix(raw: string): string {
  const parts = raw.split('/').filter((p) => p.length > 0);
  return parts.length === 0 ? '' : `${parts.join('/')}/`;
}

export const S3_PROVIDERS = ['aws', 'r2', 'b2', 'spaces', 'wasabi', 'hetzner', 'minio', 'other'] as const;
export type S3Provider = (typeof S3_PROVIDERS)[number];

export const s3SettingsInput = z.object({
  endpointUrl,
  bucket: bucketName,
  region: regionName.default(''),
  accessKey,
  /** Blank on update keeps the stored secret. */
  secretKey: secretKey.default(''),
  prefix: pathPrefix.default(''),
  provider: z.enum(S3_PROVIDERS).default('other'),
  pathStyle: z.boolean().default(false),
  checksumWhenRequired: z.boolean().default(false),
});
export type S3SettingsInput = z.input<typeof s3SettingsInput>;
export type S3SettingsParsed = z.output<typeof s3SettingsInput>;

/** A warning, not an error: plain http to a non-loopback host sends keys in clear. */
export function endpointWarning(url: string): string | undefined {
  try {
    const u = new URL(url.trim());
    if (u.protocol === 'http:' && !LOOPBACK_HOSTS.has(u.hostname)) {
      return 'Plain http:// sends requests unencrypted over the network; use https:// unless this endpoint is on a private network.';
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export type FieldErrors = Partial<Record<keyof S3SettingsInput, string>>;

/**
 * Validates a save. `hasStoredSecret` decides whether a blank secret is allowed
 * (update keeps the stored one) or required (first save).
 */
export function validateS3Save(
  input: unknown,
  hasStoredSecret: boolean,
): { ok: true; value: S3SettingsParsed } | { ok: false; errors: FieldErrors } {
  const r = s3SettingsInput.safeParse(input);
  const errors: FieldErrors = {};
  if (!r.success) {
    for (const issue of r.error.issues) {
      const key = issue.path[0] as keyof S3SettingsInput | undefined;
      if (key && !errors[key]) errors[key] = issue.message;
    }
  }
  if (r.success && !hasStoredSecret && r.data.secretKey === '') {
    errors.secretKey = 'Secret key is required the first time you save';
  }
  if (Object.keys(errors).length > 0 || !r.success) return { ok: false, errors };
  return { ok: true, value: r.data };
}
