// The messages between the S3 settings page and the extension, in both
// directions. Each side parses every message it receives with these schemas
// and ignores (and logs) anything else. Nothing sent to the page can carry
// the secret: the page-bound schemas are strict and have no field for it.
//
// This file is bundled into the webview, so it imports zod only — and
// `zod/mini`, which tree-shakes: the page bundle carries a few KB of zod
// instead of all of it (classic `zod` brings every locale along, ~450 KB).
import * as z from 'zod/mini';

/** Form fields, in form order; `secretKey` travels only from the page to the extension. */
export const S3_FORM_FIELDS = [
  'provider',
  'endpointUrl',
  'bucket',
  'region',
  'accessKey',
  'secretKey',
  'prefix',
  'pathStyle',
  'checksumWhenRequired',
] as const;
export type S3FormField = (typeof S3_FORM_FIELDS)[number];

// Raw input as typed. Lengths are generous bounds on message size, not the
// rules: the extension validates the values with the same zod rules it uses
// before anything is stored or reaches a shell (src/core/s3/settings.ts).
const text = (max: number) => z.string().check(z.maxLength(max));
/** What the page calls each field (its labels, and field errors the extension writes). */
export const S3_FIELD_LABELS = {
  provider: 'Provider',
  endpointUrl: 'Endpoint URL',
  bucket: 'Bucket',
  region: 'Region',
  accessKey: 'Access Key',
  secretKey: 'Secret Key',
  prefix: 'Path Prefix',
} as const;

/** The longest value each text field's message may carry. */
export const S3_FIELD_MAX = {
  provider: 32,
  endpointUrl: 2048,
  bucket: 1024,
  region: 1024,
  accessKey: 1024,
  secretKey: 1024,
  prefix: 1024,
} as const;
export const s3FormFields = z.strictObject({
  provider: text(S3_FIELD_MAX.provider),
  endpointUrl: text(S3_FIELD_MAX.endpointUrl),
  bucket: text(S3_FIELD_MAX.bucket),
  region: text(S3_FIELD_MAX.region),
  accessKey: text(S3_FIELD_MAX.accessKey),
  secretKey: text(S3_FIELD_MAX.secretKey),
  prefix: text(S3_FIELD_MAX.prefix),
  pathStyle: z.boolean(),
  checksumWhenRequired: z.boolean(),
});
export type S3FormFields = z.infer<typeof s3FormFields>;

/** The form without the secret: what the page may keep in its webview state. */
export const s3Draft = z.omit(s3FormFields, { secretKey: true });
export type S3Draft = z.infer<typeof s3Draft>;

/**
 * A new alert destination as typed. The URL and token travel only page →
 * extension (SecretStorage); the page-bound view has no field for them.
 */
export const alertFormFields = z.strictObject({
  kind: text(32),
  name: text(200),
  url: text(4096),
  token: text(1024),
  always: z.boolean(),
});
export type AlertFormFields = z.infer<typeof alertFormFields>;

// ---- page → extension ------------------------------------------------------

export const toExtension = z.discriminatedUnion('type', [
  /** The page loaded (again, after being hidden); answer with `init`. */
  z.strictObject({ type: z.literal('ready') }),
  /** Validate as typed; answered by `errors` and `warning` with the same seq. */
  z.strictObject({ type: z.literal('validate'), seq: z.int().check(z.nonnegative()), fields: s3FormFields }),
  z.strictObject({ type: z.literal('save'), fields: s3FormFields }),
  /** The extension asks for confirmation first (modal). */
  z.strictObject({ type: z.literal('remove') }),
  /** Test Connection from a server (the extension asks which one when there are several); answered by `tested`. */
  z.strictObject({ type: z.literal('test'), serverId: z.optional(text(100)) }),
  /** Alerts: add a destination (answered by `alerts` or `alertResult`), remove one (after a modal), test one from a server. */
  z.strictObject({ type: z.literal('alertAdd'), destination: alertFormFields }),
  z.strictObject({ type: z.literal('alertRemove'), id: text(100) }),
  z.strictObject({ type: z.literal('alertTest'), id: text(100) }),
]);
export type ToExtension = z.infer<typeof toExtension>;

// ---- extension → page ------------------------------------------------------

export const fieldErrors = z.strictObject(
  Object.fromEntries(S3_FORM_FIELDS.map((f) => [f, z.optional(z.string())])) as Record<
    S3FormField,
    z.ZodMiniOptional<z.ZodMiniString>
  >,
);
export type FieldErrorMap = z.infer<typeof fieldErrors>;

/** The last Test Connection of exactly the stored settings (a save or a change makes it go). */
export const lastTestView = z.strictObject({
  ok: z.boolean(),
  /** ISO time. */
  at: z.string(),
  server: z.string(),
  message: z.string(),
});
export type LastTestView = z.infer<typeof lastTestView>;

export const configuredSettings = z.strictObject({
  configured: z.literal(true),
  endpointUrl: z.string(),
  bucket: z.string(),
  region: z.string(),
  accessKey: z.string(),
  prefix: z.string(),
  provider: z.string(),
  pathStyle: z.boolean(),
  checksumWhenRequired: z.boolean(),
  /** Whether a secret is stored; the secret itself never comes to the page. */
  hasSecretKey: z.boolean(),
  lastTest: z.optional(lastTestView),
});
export const settingsView = z.discriminatedUnion('configured', [
  z.strictObject({ configured: z.literal(false) }),
  configuredSettings,
]);
export type ConfiguredSettings = z.infer<typeof configuredSettings>;
export type SettingsView = z.infer<typeof settingsView>;

export const presetView = z.strictObject({
  id: z.string(),
  label: z.string(),
  /** `<region>` is filled from the region field; other `<...>` parts are the user's to replace. */
  endpoint: z.string(),
  region: z.string(),
  pathStyle: z.boolean(),
  checksumWhenRequired: z.boolean(),
  hint: z.string(),
});
export type PresetView = z.infer<typeof presetView>;

/** A saved alert destination as the page shows it: never its URL or token. */
export const alertView = z.strictObject({
  id: z.string(),
  name: z.string(),
  kind: z.string(),
  kindLabel: z.string(),
  when: z.string(),
  /** Whether this computer holds its URL (another computer may have saved it). */
  hasSecret: z.boolean(),
});
export type AlertView = z.infer<typeof alertView>;

export const alertKindView = z.strictObject({
  id: z.string(),
  label: z.string(),
  takesToken: z.boolean(),
  hint: z.string(),
});
export type AlertKindView = z.infer<typeof alertKindView>;

export const toWebview = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('init'), settings: settingsView, presets: z.array(presetView) }),
  z.strictObject({ type: z.literal('saved'), settings: configuredSettings, message: z.string() }),
  z.strictObject({ type: z.literal('removed'), message: z.string() }),
  /** Field errors of a `validate` (with its seq) or of a `save` (without). */
  z.strictObject({ type: z.literal('errors'), seq: z.optional(z.int()), errors: fieldErrors }),
  /** The endpoint warning, or none (clears it). */
  z.strictObject({ type: z.literal('warning'), seq: z.optional(z.int()), message: z.optional(z.string()) }),
  /** Outcome of an action that is not a field problem (a failed save). */
  z.strictObject({ type: z.literal('result'), ok: z.boolean(), message: z.string() }),
  /** Test Connection: each step (put, head, get, list, delete) with ✓/✗, and the summary. */
  z.strictObject({
    type: z.literal('tested'),
    ok: z.boolean(),
    message: z.string(),
    server: z.string(),
    /** ISO time of the test. */
    at: z.string(),
    steps: z.array(z.strictObject({ step: z.string(), ok: z.boolean(), detail: z.string() })),
  }),
  /** The saved alert destinations (after `ready`, and after every change). */
  z.strictObject({
    type: z.literal('alerts'),
    destinations: z.array(alertView),
    kinds: z.array(alertKindView),
  }),
  /** An alert action's outcome: `id` for a destination's test, none for the add form. */
  z.strictObject({
    type: z.literal('alertResult'),
    id: z.optional(z.string()),
    ok: z.boolean(),
    message: z.string(),
    /** The add form's values were taken (the form may be cleared). */
    added: z.optional(z.boolean()),
  }),
]);
export type ToWebview = z.infer<typeof toWebview>;

export type Parsed<T> = { ok: true; message: T } | { ok: false; problem: string };

/** Parses a received message; on failure, says what was wrong without echoing any value. */
export function parseMessage<T>(schema: z.ZodMiniType<T>, raw: unknown): Parsed<T> {
  const r = schema.safeParse(raw, { reportInput: false });
  if (r.success) return { ok: true, message: r.data };
  const problem = r.error.issues
    .slice(0, 3)
    .map((i) => {
      const where = i.path.length ? i.path.join('.') : '(message)';
      return `${where}: ${i.code}${i.code === 'unrecognized_keys' ? ` ${i.keys.join(', ')}` : ''}`;
    })
    .join('; ');
  return { ok: false, problem };
}

/**
 * A `validate` or `save` that failed only because fields are longer than a
 * message may carry: which fields, so the page gets field errors instead of
 * silence. Undefined for any other malformed message.
 */
export function oversizeFields(
  raw: unknown,
): { type: 'validate' | 'save'; seq?: number; fields: (keyof typeof S3_FIELD_MAX)[] } | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { type, seq } = raw as { type?: unknown; seq?: unknown };
  if (type !== 'validate' && type !== 'save') return undefined;
  const r = toExtension.safeParse(raw, { reportInput: false });
  if (r.success) return undefined;
  const fields = new Set<keyof typeof S3_FIELD_MAX>();
  for (const i of r.error.issues) {
    const name = i.path[1];
    if (i.code !== 'too_big' || i.path[0] !== 'fields' || typeof name !== 'string' || !(name in S3_FIELD_MAX))
      return undefined;
    fields.add(name as keyof typeof S3_FIELD_MAX);
  }
  if (type === 'validate' && !(typeof seq === 'number' && Number.isInteger(seq) && seq >= 0))
    return undefined;
  return { type, seq: type === 'validate' ? (seq as number) : undefined, fields: [...fields] };
}
