import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigStore } from '../../src/store/configStore';
import { MemorySecretBackend, Secrets, secretKeys } from '../../src/core/secrets';
import { S3SettingsService, type S3TestRecord } from '../../src/core/s3/settingsService';
import { WASM_PATH, tempDir } from '../support/paths';

describe('S3 settings service (over the real store)', () => {
  let cleanup: () => void;
  let file: string;
  let store: ConfigStore;
  let backend: MemorySecretBackend;
  let service: S3SettingsService;

  beforeEach(async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    file = path.join(t.dir, 'infrakt.sqlite');
    store = (await ConfigStore.open(file, { wasmPath: WASM_PATH })).store;
    backend = new MemorySecretBackend();
    service = new S3SettingsService(store, new Secrets(backend));
  });
  afterEach(() => {
    store.dispose();
    cleanup();
  });

  describe('read', () => {
    it('returns {configured: false} when not configured', async () => {
      assert.deepEqual(await service.read(), { configured: false });
    });

    it('returns every field but the secret once configured', async () => {
      await service.save({
        endpointUrl: 'https://s3.amazonaws.com',
        bucket: 'my-backups',
        region: 'us-east-1',
        accessKey: 'AKIAIOSFODNN7EXAMPLE',
        secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        prefix: 'infrakt/',
      });
      const data = await service.read();
      assert.equal(data.configured, true);
      assert.ok(data.configured);
      assert.equal(data.endpointUrl, 'https://s3.amazonaws.com');
      assert.equal(data.bucket, 'my-backups');
      assert.equal(data.accessKey, 'AKIAIOSFODNN7EXAMPLE');
      assert.equal(data.hasSecretKey, true);
      assert.ok(!('secretKey' in data), 'secret is never returned');
      assert.ok(!JSON.stringify(data).includes('wJalrXUtnFEMI'));
    });

    it('says hasSecretKey: false when the secret is missing from SecretStorage', async () => {
      await service.save(valid({ secretKey: 'S' }));
      backend.values.clear();
      const data = await service.read();
      assert.ok(data.configured);
      assert.equal(data.hasSecretKey, false);
    });
  });

  describe('save', () => {
    it('saves a new configuration', async () => {
      const r = await service.save({
        endpointUrl: 'https://nyc3.digitaloceanspaces.com',
        bucket: 'backups',
        region: 'nyc3',
        accessKey: 'DO_KEY',
        secretKey: 'DO_SECRET',
        prefix: '',
      });
      assert.ok(r.ok);
      assert.equal(r.message, 'S3 configuration saved');
      assert.equal(r.settings.bucket, 'backups');
      assert.equal(backend.values.get(secretKeys.s3Secret()), 'DO_SECRET');
      assert.equal(store.getS3Settings()?.endpointUrl, 'https://nyc3.digitaloceanspaces.com');
    });

    it('updates the existing configuration', async () => {
      await service.save(
        valid({ bucket: 'old-bucket', region: 'us-east-1', accessKey: 'OLD_KEY', secretKey: 'OLD_SECRET' }),
      );
      const r = await service.save(
        valid({
          bucket: 'new-bucket',
          region: 'us-west-2',
          accessKey: 'NEW_KEY',
          secretKey: 'NEW_SECRET',
          prefix: 'prod/',
        }),
      );
      assert.ok(r.ok);
      const data = await service.read();
      assert.ok(data.configured);
      assert.equal(data.bucket, 'new-bucket');
      assert.equal(data.region, 'us-west-2');
      assert.equal(data.prefix, 'prod/');
      assert.equal(backend.values.get(secretKeys.s3Secret()), 'NEW_SECRET');
    });

    it('keeps the stored secret when the secret is left blank on update', async () => {
      await service.save(valid({ secretKey: 'KEEP_ME' }));
      const r = await service.save(valid({ bucket: 'other-bucket', secretKey: '' }));
      assert.ok(r.ok);
      assert.equal(backend.values.get(secretKeys.s3Secret()), 'KEEP_ME');
      assert.equal(store.getS3Settings()?.bucket, 'other-bucket');
    });

    it('requires the secret on first save, and stores nothing', async () => {
      const r = await service.save(valid({ secretKey: '' }));
      assert.equal(r.ok, false);
      assert.ok(!r.ok);
      assert.equal(r.errors.secretKey, 'Secret key is required the first time you save');
      assert.equal(store.getS3Settings(), undefined);
      assert.equal(backend.values.size, 0);
    });

    it('requires the secret again when the row exists but the secret was lost', async () => {
      await service.save(valid({ secretKey: 'S' }));
      backend.values.clear();
      const r = await service.save(valid({ secretKey: '' }));
      assert.ok(!r.ok);
      assert.equal(r.errors.secretKey, 'Secret key is required: none is stored on this computer');
    });

    it('reports the missing secret together with the other problems', async () => {
      const r = await service.save(valid({ bucket: 'Bad_Bucket', secretKey: '  ' }));
      assert.ok(!r.ok);
      assert.deepEqual(Object.keys(r.errors).sort(), ['bucket', 'secretKey']);
    });

    it('returns one message per invalid field and stores nothing', async () => {
      const r = await service.save({
        endpointUrl: 'ftp://example.com',
        bucket: 'Bad_Bucket',
        region: 'US East',
        accessKey: '',
        secretKey: 'x',
        prefix: '../x',
      });
      assert.ok(!r.ok);
      assert.deepEqual(Object.keys(r.errors).sort(), [
        'accessKey',
        'bucket',
        'endpointUrl',
        'prefix',
        'region',
      ]);
      assert.equal(store.getS3Settings(), undefined);
    });

    it('refuses a preset endpoint whose placeholder was not replaced', async () => {
      const r = await service.save(valid({ endpointUrl: 'https://<ACCOUNT_ID>.r2.cloudflarestorage.com' }));
      assert.ok(!r.ok);
      assert.equal(r.errors.endpointUrl, 'Replace <ACCOUNT_ID> in the endpoint URL with your own value');
    });

    it('normalises the prefix, trims pasted whitespace and keeps the compatibility options', async () => {
      const r = await service.save(
        valid({
          endpointUrl: '  https://s3.us-west-004.backblazeb2.com/ ',
          accessKey: ' KEY\n',
          secretKey: ' SECRET ',
          prefix: '/db//nightly',
          provider: 'b2',
          checksumWhenRequired: true,
        }),
      );
      assert.ok(r.ok);
      assert.equal(r.settings.endpointUrl, 'https://s3.us-west-004.backblazeb2.com');
      assert.equal(r.settings.accessKey, 'KEY');
      assert.equal(r.settings.prefix, 'db/nightly/');
      assert.equal(r.settings.provider, 'b2');
      assert.equal(r.settings.checksumWhenRequired, true);
      assert.equal(backend.values.get(secretKeys.s3Secret()), 'SECRET');
    });

    it('saves plain http to a remote host, with a warning', async () => {
      const r = await service.save(valid({ endpointUrl: 'http://s3.example.com' }));
      assert.ok(r.ok);
      assert.match(r.warning ?? '', /unencrypted/);
      const local = await service.save(valid({ endpointUrl: 'http://127.0.0.1:9000' }));
      assert.ok(local.ok);
      assert.equal(local.warning, undefined);
    });
  });

  describe('validate', () => {
    it('answers like save would, without saving', async () => {
      const v = await service.validate(valid({ bucket: 'x' }));
      assert.equal(v.errors.bucket, 'Bucket name must be 3–63 characters');
      assert.deepEqual((await service.validate(valid())).errors, {});
      assert.equal(store.getS3Settings(), undefined);
      assert.equal(backend.values.size, 0);
    });

    it('allows a blank secret only once a secret is stored', async () => {
      assert.ok((await service.validate(valid({ secretKey: '' }))).errors.secretKey);
      await service.save(valid());
      assert.equal((await service.validate(valid({ secretKey: '' }))).errors.secretKey, undefined);
    });
  });

  describe('remove', () => {
    it('deletes the existing configuration and its secret', async () => {
      // The seed uses bucket "b"; our bucket rules (3–63 characters) refuse it.
      await service.save(valid({ bucket: 'bkt', region: 'r', accessKey: 'k', secretKey: 's' }));
      const r = await service.remove();
      assert.equal(r.message, 'S3 configuration removed');
      assert.deepEqual(await service.read(), { configured: false });
      assert.equal(backend.values.has(secretKeys.s3Secret()), false);
    });

    it('succeeds when nothing is configured', async () => {
      const r = await service.remove();
      assert.equal(r.message, 'S3 configuration removed');
      assert.deepEqual(await service.read(), { configured: false });
    });
  });

  it('a canary secret appears in no reply and nowhere in the SQLite file', async () => {
    const canary = 'CANARY-s3-secret-7f3a9c1e';
    const replies: unknown[] = [];
    replies.push(await service.save(valid({ secretKey: canary })));
    replies.push(await service.read());
    replies.push(await service.validate(valid({ secretKey: canary })));
    replies.push(await service.save(valid({ bucket: 'second-bucket', secretKey: '' })));
    replies.push(await service.save(valid({ bucket: 'third-bucket', secretKey: `${canary}-2` })));
    replies.push(await service.read());
    replies.push(await service.save(valid({ bucket: 'x', secretKey: canary }))); // rejected: errors only
    for (const reply of replies) assert.ok(!JSON.stringify(reply).includes('CANARY'), JSON.stringify(reply));
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.includes(Buffer.from('CANARY')), false);
    assert.equal(bytes.includes(Buffer.from('CANARY', 'utf16le')), false);
    assert.ok(bytes.includes(Buffer.from('third-bucket')), 'the row itself is in the file');
    assert.equal(backend.values.get(secretKeys.s3Secret()), `${canary}-2`);
  });

  describe('the last Test Connection', () => {
    let kept: S3TestRecord | undefined;
    let tested: S3SettingsService;
    const outcome = {
      ok: true,
      at: '2026-12-07T14:05:00.000Z',
      server: 'web-1',
      message: 'S3 connection from web-1 works',
    };
    beforeEach(() => {
      kept = undefined;
      tested = new S3SettingsService(store, new Secrets(backend), {
        get: () => kept,
        set: async (v) => {
          kept = v;
        },
      });
    });
    const stored = () => {
      const row = store.getS3Settings();
      assert.ok(row);
      return row;
    };

    it('is shown with the settings it tested, and kept with no secret in it', async () => {
      await tested.save(valid());
      const before = await tested.read();
      assert.ok(before.configured && before.lastTest === undefined, 'saved, not tested');
      await tested.recordTest(stored(), outcome);
      const after = await tested.read();
      assert.ok(after.configured);
      assert.deepEqual(after.lastTest, outcome);
      assert.ok(!JSON.stringify(kept).includes('wJalrXUtnFEMI'), 'no secret in the record');
    });

    it('goes with a save (a new secret or other fields) and with Remove', async () => {
      await tested.save(valid());
      await tested.recordTest(stored(), outcome);
      const saved = await tested.save(valid({ secretKey: 'another-secret' }));
      assert.ok(saved.ok && saved.settings.lastTest === undefined);
      const read = await tested.read();
      assert.ok(read.configured && read.lastTest === undefined);
      await tested.recordTest(stored(), outcome);
      await tested.remove();
      assert.equal(kept, undefined);
    });

    it('is not shown for settings another window changed since (it tested other ones)', async () => {
      await tested.save(valid());
      await tested.recordTest(stored(), outcome);
      store.saveS3Settings({ ...stored(), bucket: 'other-bucket' });
      const read = await tested.read();
      assert.ok(read.configured && read.lastTest === undefined);
    });
  });
});

function valid(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    endpointUrl: 'https://s3.amazonaws.com',
    bucket: 'my-backups',
    region: 'us-east-1',
    accessKey: 'AKIAIOSFODNN7EXAMPLE',
    secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    prefix: 'infrakt/',
    ...over,
  };
}
