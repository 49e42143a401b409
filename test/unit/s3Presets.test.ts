import * as assert from 'node:assert/strict';
import { S3_PRESETS, presetById, presetEndpoint, unfilledPlaceholders } from '../../src/core/s3/presets';
import { S3_PROVIDERS, validateS3Save } from '../../src/core/s3/settings';

describe('S3 provider presets', () => {
  it('has exactly one preset per provider, in the order of the select', () => {
    assert.deepEqual(
      S3_PRESETS.map((p) => p.id),
      [...S3_PROVIDERS],
    );
    assert.deepEqual(
      S3_PRESETS.map((p) => p.label),
      [
        'AWS S3',
        'Cloudflare R2',
        'Backblaze B2',
        'DigitalOcean Spaces',
        'Wasabi',
        'Hetzner Object Storage',
        'MinIO',
        'Other S3-compatible',
      ],
    );
  });

  it('fills <region> into the endpoint pattern', () => {
    const cases: Record<string, string> = {
      aws: 'https://s3.us-east-1.amazonaws.com',
      b2: 'https://s3.us-west-004.backblazeb2.com',
      spaces: 'https://nyc3.digitaloceanspaces.com',
      wasabi: 'https://s3.us-east-1.wasabisys.com',
      hetzner: 'https://fsn1.your-objectstorage.com',
    };
    for (const [id, endpoint] of Object.entries(cases)) {
      const p = presetById(id);
      assert.ok(p, id);
      assert.equal(presetEndpoint(p, ''), endpoint, id);
    }
    const spaces = presetById('spaces');
    assert.ok(spaces);
    assert.equal(presetEndpoint(spaces, 'ams3'), 'https://ams3.digitaloceanspaces.com');
  });

  it('leaves account placeholders for the user, and saving refuses them until replaced', () => {
    const r2 = presetById('r2');
    assert.ok(r2);
    assert.equal(presetEndpoint(r2, 'auto'), 'https://<ACCOUNT_ID>.r2.cloudflarestorage.com');
    assert.deepEqual(unfilledPlaceholders(r2.endpoint), ['<ACCOUNT_ID>']);
    assert.deepEqual(unfilledPlaceholders('https://abc123.r2.cloudflarestorage.com'), []);
  });

  it('sets when_required checksums for R2 and B2 only, and path-style for MinIO only', () => {
    assert.deepEqual(
      S3_PRESETS.filter((p) => p.checksumWhenRequired).map((p) => p.id),
      ['r2', 'b2'],
    );
    assert.deepEqual(
      S3_PRESETS.filter((p) => p.pathStyle).map((p) => p.id),
      ['minio'],
    );
  });

  it('every preset, once its placeholders are filled, passes the settings validation', () => {
    for (const p of S3_PRESETS.filter((x) => x.id !== 'other')) {
      const endpointUrl = presetEndpoint(p, '').replace(/<[A-Za-z_]+>/g, 'example');
      const r = validateS3Save(
        {
          endpointUrl,
          bucket: 'my-backups',
          region: p.region,
          accessKey: 'AK',
          secretKey: 'SK',
          provider: p.id,
          pathStyle: p.pathStyle,
          checksumWhenRequired: p.checksumWhenRequired,
        },
        false,
      );
      assert.ok(r.ok, `${p.id}: ${JSON.stringify(r.ok ? '' : r.errors)}`);
    }
  });

  it('"Other" proposes nothing, so the user types the endpoint', () => {
    const other = presetById('other');
    assert.ok(other);
    assert.equal(presetEndpoint(other, ''), '');
    assert.equal(other.region, '');
  });
});
