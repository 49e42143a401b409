// The settings page's form logic, without the DOM: what the form shows after
// `init`, what a preset fills in, what the page may remember while hidden.
// Bundled into the webview (imports zod and the protocol only); unit-tested.
import * as z from 'zod/mini';
import { type LastTestView, type PresetView, type S3Draft, type SettingsView, s3Draft } from './protocol';

export const DRAFT_FIELDS = [
  'provider',
  'endpointUrl',
  'bucket',
  'region',
  'accessKey',
  'prefix',
  'pathStyle',
  'checksumWhenRequired',
] as const satisfies readonly (keyof S3Draft)[];
export type DraftField = (typeof DRAFT_FIELDS)[number];

/** Words, not a sample key: an example secret in a password field looks like one already entered. */
export const SECRET_PLACEHOLDER_NEW = 'Required: paste your secret access key';
export const SECRET_PLACEHOLDER_KEEP = '••••••••  (leave blank to keep)';

export const EMPTY_DRAFT: S3Draft = {
  provider: 'aws',
  endpointUrl: '',
  bucket: '',
  region: '',
  accessKey: '',
  prefix: '',
  pathStyle: false,
  checksumWhenRequired: false,
};

/**
 * What the page keeps in its webview state across hide/show: the form without
 * the secret, and which fields the user changed. Strict: the page parses the
 * state with this before every setState, so a secret cannot slip into it.
 */
export const pageState = z.strictObject({
  draft: s3Draft,
  edited: z.array(z.enum(DRAFT_FIELDS)),
});

export function draftFrom(settings: SettingsView): S3Draft {
  if (!settings.configured) return { ...EMPTY_DRAFT };
  const { endpointUrl, bucket, region, accessKey, prefix, provider, pathStyle, checksumWhenRequired } =
    settings;
  return { provider, endpointUrl, bucket, region, accessKey, prefix, pathStyle, checksumWhenRequired };
}

/** Stored values for every field the user has not changed; the user's input for the rest. */
export function mergeDraft(
  current: S3Draft,
  edited: ReadonlySet<DraftField>,
  settings: SettingsView,
): S3Draft {
  const stored = draftFrom(settings);
  const out: Record<string, string | boolean> = { ...stored };
  for (const f of edited) out[f] = current[f];
  return s3Draft.parse(out);
}

/** Whether the secret field must be filled: until a secret is stored. */
export function secretRequired(settings: SettingsView): boolean {
  return !(settings.configured && settings.hasSecretKey);
}

export function secretPlaceholder(settings: SettingsView): string {
  return secretRequired(settings) ? SECRET_PLACEHOLDER_NEW : SECRET_PLACEHOLDER_KEEP;
}

/** A preset's endpoint for a region: `<region>` is filled, other placeholders stay. */
export function fillEndpoint(pattern: string, region: string): string {
  return region ? pattern.replaceAll('<region>', region) : pattern;
}

/** The first `<...>` placeholder left in an endpoint, as [start, end) for selecting it. */
export function placeholderRange(endpoint: string): [number, number] | undefined {
  const m = /<[A-Za-z_]+>/.exec(endpoint);
  return m ? [m.index, m.index + m[0].length] : undefined;
}

/**
 * Choosing a preset fills the endpoint pattern, the default region and the
 * compatibility options. "Other" (no endpoint pattern) changes only the provider.
 */
export function applyPreset(draft: S3Draft, preset: PresetView): { draft: S3Draft; changed: DraftField[] } {
  if (!preset.endpoint) return { draft: { ...draft, provider: preset.id }, changed: ['provider'] };
  return {
    draft: {
      ...draft,
      provider: preset.id,
      endpointUrl: fillEndpoint(preset.endpoint, preset.region),
      region: preset.region,
      pathStyle: preset.pathStyle,
      checksumWhenRequired: preset.checksumWhenRequired,
    },
    changed: ['provider', 'endpointUrl', 'region', 'pathStyle', 'checksumWhenRequired'],
  };
}

/**
 * When the region changes and the endpoint is still the preset's endpoint for
 * the old region, the endpoint follows (nyc3 → ams3 in a Spaces URL).
 */
export function endpointForRegion(
  endpoint: string,
  preset: PresetView | undefined,
  oldRegion: string,
  newRegion: string,
): string {
  if (!preset || !preset.endpoint.includes('<region>')) return endpoint;
  if (endpoint !== fillEndpoint(preset.endpoint, oldRegion)) return endpoint;
  return fillEndpoint(preset.endpoint, newRegion);
}

/** The badge beside the page's heading: what is actually known about the stored settings. */
export interface StatusBadge {
  text: string;
  kind: 'ok' | 'warning' | 'error' | 'info';
  /** The longer story (its tooltip). */
  title: string;
}

/** "14:05" today, else "2026-12-01 14:05" (the page's local time). */
export function testTime(at: string, now: Date = new Date()): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return at;
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(d.getHours())}:${two(d.getMinutes())}`;
  const sameDay =
    d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return sameDay ? time : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}`;
}

/**
 * Saved but not tested; the secret missing on this computer; tested OK at a
 * time from a server; or the last test's failure. Nothing when nothing is saved.
 */
export function statusBadge(settings: SettingsView, now: Date = new Date()): StatusBadge | undefined {
  if (!settings.configured) return undefined;
  if (!settings.hasSecretKey)
    return {
      text: 'Secret key missing on this computer',
      kind: 'warning',
      title:
        'The settings are saved, but VS Code keeps secrets per computer and this one has none: enter the secret key and save.',
    };
  const t: LastTestView | undefined = settings.lastTest;
  if (!t)
    return {
      text: 'Saved — not tested',
      kind: 'info',
      title: 'Saved; no Test Connection has run with these settings yet.',
    };
  const when = testTime(t.at, now);
  return t.ok
    ? { text: `Tested OK at ${when} from ${t.server}`, kind: 'ok', title: t.message }
    : { text: `Test failed at ${when} from ${t.server}`, kind: 'error', title: t.message };
}
