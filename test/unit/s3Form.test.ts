import * as assert from 'node:assert/strict';
import type { ConfiguredSettings, PresetView } from '../../src/shared/protocol';
import type { StatusBadge } from '../../src/shared/s3Form';
import {
  EMPTY_DRAFT,
  SECRET_PLACEHOLDER_KEEP,
  SECRET_PLACEHOLDER_NEW,
  applyPreset,
  draftFrom,
  endpointForRegion,
  mergeDraft,
  pageState,
  placeholderRange,
  secretPlaceholder,
  secretRequired,
  statusBadge,
  testTime,
} from '../../src/shared/s3Form';
import { S3_PRESETS } from '../../src/core/s3/presets';

const stored: ConfiguredSettings = {
  configured: true,
  endpointUrl: 'https://nyc3.digitaloceanspaces.com',
  bucket: 'backups',
  region: 'nyc3',
  accessKey: 'DO_KEY',
  prefix: 'infrakt/',
  provider: 'spaces',
  pathStyle: false,
  checksumWhenRequired: false,
  hasSecretKey: true,
};
const okTest = (at: Date) => ({
  ok: true,
  at: at.toISOString(),
  server: 'web-1',
  message: 'S3 connection from web-1 works: put, head, get (sha256 matches), list, delete ✓',
});
const pick = (b: StatusBadge | undefined) => (b ? [b.text, b.kind] : undefined);
const preset = (id: string): PresetView => {
  const p = S3_PRESETS.find((x) => x.id === id);
  assert.ok(p, id);
  return { ...p };
};

describe('S3 settings form logic (page side)', () => {
  it('shows the stored settings, or an empty AWS form when none', () => {
    assert.deepEqual(draftFrom({ configured: false }), EMPTY_DRAFT);
    const d = draftFrom(stored);
    assert.equal(d.bucket, 'backups');
    assert.ok(!('hasSecretKey' in d) && !('configured' in d));
  });

  it('keeps what the user changed when settings arrive (after hide/show, or from another window)', () => {
    const current = { ...draftFrom(stored), bucket: 'typed-bucket', region: 'typed' };
    const merged = mergeDraft(current, new Set(['bucket']), { ...stored, accessKey: 'NEW_KEY' });
    assert.equal(merged.bucket, 'typed-bucket');
    assert.equal(merged.region, 'nyc3', 'unedited fields take the stored value');
    assert.equal(merged.accessKey, 'NEW_KEY');
  });

  it('asks for the secret until one is stored, then offers to keep it', () => {
    assert.equal(secretRequired({ configured: false }), true);
    assert.equal(secretPlaceholder({ configured: false }), SECRET_PLACEHOLDER_NEW);
    assert.equal(secretRequired(stored), false);
    assert.equal(secretPlaceholder(stored), '••••••••  (leave blank to keep)');
    assert.equal(SECRET_PLACEHOLDER_KEEP, '••••••••  (leave blank to keep)');
    assert.equal(secretRequired({ ...stored, hasSecretKey: false }), true);
  });

  it('the empty secret field reads as an instruction, never as a key already filled in', () => {
    assert.equal(SECRET_PLACEHOLDER_NEW, 'Required: paste your secret access key');
    // A secret access key is one run of key characters: this has spaces and words.
    assert.doesNotMatch(SECRET_PLACEHOLDER_NEW, /^[A-Za-z0-9/+=.]+$/);
    assert.doesNotMatch(SECRET_PLACEHOLDER_NEW, /EXAMPLE|wJalr|\.\.\./);
  });

  it('the badge says what is known: secret missing here, saved but not tested, tested OK at a time from a server, or the failure', () => {
    const now = new Date(2026, 11, 7, 15, 30);
    assert.equal(statusBadge({ configured: false }, now), undefined, 'nothing saved: no badge');
    assert.deepEqual(
      pick(statusBadge({ ...stored, hasSecretKey: false, lastTest: okTest(now) }, now)),
      ['Secret key missing on this computer', 'warning'],
      'a missing secret wins over an old test',
    );
    assert.deepEqual(pick(statusBadge(stored, now)), ['Saved — not tested', 'info']);
    const ok = statusBadge({ ...stored, lastTest: okTest(new Date(2026, 11, 7, 14, 5)) }, now);
    assert.deepEqual(pick(ok), ['Tested OK at 14:05 from web-1', 'ok']);
    assert.match(ok?.title ?? '', /works/);
    const failed = statusBadge(
      {
        ...stored,
        lastTest: {
          ok: false,
          at: new Date(2026, 10, 30, 9, 2).toISOString(),
          server: 'web-2',
          message: 'S3 test from web-2 failed at put: the bucket does not exist',
        },
      },
      now,
    );
    assert.deepEqual(pick(failed), ['Test failed at 2026-11-30 09:02 from web-2', 'error']);
    assert.match(failed?.title ?? '', /bucket does not exist/);
    for (const b of [ok, failed, statusBadge(stored, now)]) assert.notEqual(b?.text, 'Connected');
  });

  it('a test time is the time today, with the date on another day', () => {
    const now = new Date(2026, 11, 7, 0, 10);
    assert.equal(testTime(new Date(2026, 11, 7, 0, 1).toISOString(), now), '00:01');
    assert.equal(testTime(new Date(2026, 11, 6, 23, 59).toISOString(), now), '2026-12-06 23:59');
  });

  it('a preset fills endpoint, region and compatibility options', () => {
    const { draft, changed } = applyPreset(EMPTY_DRAFT, preset('b2'));
    assert.equal(draft.provider, 'b2');
    assert.equal(draft.endpointUrl, 'https://s3.us-west-004.backblazeb2.com');
    assert.equal(draft.region, 'us-west-004');
    assert.equal(draft.checksumWhenRequired, true);
    assert.ok(changed.includes('endpointUrl') && changed.includes('checksumWhenRequired'));
    const r2 = applyPreset(EMPTY_DRAFT, preset('r2')).draft;
    assert.equal(r2.endpointUrl, 'https://<ACCOUNT_ID>.r2.cloudflarestorage.com');
    assert.deepEqual(placeholderRange(r2.endpointUrl), [8, 20]);
    assert.equal(r2.endpointUrl.slice(8, 20), '<ACCOUNT_ID>');
    assert.equal(placeholderRange('https://abc.r2.cloudflarestorage.com'), undefined);
  });

  it('"Other" keeps what was typed and changes only the provider', () => {
    const typed = { ...EMPTY_DRAFT, endpointUrl: 'https://s3.example.net', pathStyle: true };
    const { draft, changed } = applyPreset(typed, preset('other'));
    assert.deepEqual(draft, { ...typed, provider: 'other' });
    assert.deepEqual(changed, ['provider']);
  });

  it('the endpoint follows the region while it is still the preset’s', () => {
    const spaces = preset('spaces');
    assert.equal(
      endpointForRegion('https://nyc3.digitaloceanspaces.com', spaces, 'nyc3', 'ams3'),
      'https://ams3.digitaloceanspaces.com',
    );
    assert.equal(
      endpointForRegion('https://cdn.example.com', spaces, 'nyc3', 'ams3'),
      'https://cdn.example.com',
      'a custom endpoint is left alone',
    );
    assert.equal(
      endpointForRegion('https://x.r2.cloudflarestorage.com', preset('r2'), 'auto', 'eu'),
      'https://x.r2.cloudflarestorage.com',
    );
  });

  it('the page state can never hold the secret', () => {
    const ok = { draft: EMPTY_DRAFT, edited: ['bucket'] };
    assert.ok(pageState.safeParse(ok).success);
    assert.equal(pageState.safeParse({ ...ok, draft: { ...EMPTY_DRAFT, secretKey: 'S' } }).success, false);
    assert.equal(pageState.safeParse({ ...ok, secretKey: 'S' }).success, false);
    assert.equal(pageState.safeParse({ ...ok, edited: ['secretKey'] }).success, false);
  });
});
