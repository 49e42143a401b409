import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import {
  type S3FormFields,
  type ToWebview,
  S3_FIELD_MAX,
  oversizeFields,
  parseMessage,
  toExtension,
  toWebview,
} from '../../src/shared/protocol';
import { S3_PRESETS } from '../../src/core/s3/presets';
import { S3SettingsService } from '../../src/core/s3/settingsService';
import { MemorySecretBackend, Secrets } from '../../src/core/secrets';
import { ConfigStore } from '../../src/store/configStore';
import { WASM_PATH, tempDir } from '../support/paths';

const form = (over: Partial<S3FormFields> = {}): S3FormFields => ({
  provider: 'aws',
  endpointUrl: 'https://s3.amazonaws.com',
  bucket: 'my-backups',
  region: 'us-east-1',
  accessKey: 'AKIAIOSFODNN7EXAMPLE',
  secretKey: 'SECRET',
  prefix: '',
  pathStyle: false,
  checksumWhenRequired: false,
  ...over,
});

describe('S3 settings page protocol', () => {
  describe('page → extension', () => {
    it('accepts every message the page sends', () => {
      for (const m of [
        { type: 'ready' },
        { type: 'validate', seq: 3, fields: form() },
        { type: 'save', fields: form({ secretKey: '' }) },
        { type: 'remove' },
        { type: 'test' },
      ]) {
        assert.ok(parseMessage(toExtension, m).ok, JSON.stringify(m));
      }
    });

    it('refuses unknown types, extra keys, wrong types and oversized values', () => {
      const bad: unknown[] = [
        null,
        'save',
        { type: 'delete' },
        { type: 'remove', now: true },
        { type: 'save', fields: { ...form(), extra: 'x' } },
        { type: 'save', fields: { ...form(), pathStyle: 'yes' } },
        { type: 'save', fields: form({ endpointUrl: 'x'.repeat(5000) }) },
        { type: 'validate', seq: -1, fields: form() },
        { type: 'validate', seq: 1.5, fields: form() },
      ];
      for (const m of bad)
        assert.equal(parseMessage(toExtension, m).ok, false, JSON.stringify(m)?.slice(0, 80));
    });

    it('an oversize field is named (so the page gets a field error, not silence); any other fault is not', () => {
      assert.deepEqual(oversizeFields({ type: 'save', fields: form({ endpointUrl: 'x'.repeat(3000) }) }), {
        type: 'save',
        seq: undefined,
        fields: ['endpointUrl'],
      });
      assert.deepEqual(
        oversizeFields({
          type: 'validate',
          seq: 7,
          fields: form({ bucket: 'b'.repeat(S3_FIELD_MAX.bucket + 1), secretKey: 's'.repeat(5000) }),
        }),
        { type: 'validate', seq: 7, fields: ['bucket', 'secretKey'] },
      );
      for (const m of [
        { type: 'save', fields: form() },
        { type: 'save', fields: { ...form({ endpointUrl: 'x'.repeat(3000) }), extra: 'x' } },
        { type: 'save', fields: { ...form({ endpointUrl: 'x'.repeat(3000) }), pathStyle: 'yes' } },
        { type: 'validate', seq: -1, fields: form({ endpointUrl: 'x'.repeat(3000) }) },
        { type: 'remove', fields: form({ endpointUrl: 'x'.repeat(3000) }) },
        null,
      ])
        assert.equal(oversizeFields(m), undefined, JSON.stringify(m)?.slice(0, 80));
    });

    it('describes a malformed message without echoing its values (a save carries the secret)', () => {
      const secret = 'CANARY-in-a-malformed-save';
      const r = parseMessage(toExtension, {
        type: 'save',
        fields: { ...form({ secretKey: secret }), bucket: 42, extra: secret },
      });
      assert.ok(!r.ok);
      assert.ok(!r.problem.includes('CANARY'), r.problem);
      assert.match(r.problem, /fields\.bucket: invalid_type/);
      assert.match(r.problem, /unrecognized_keys extra/);
    });
  });

  describe('extension → page', () => {
    it('has no room for a secret: settings with a secretKey are refused', () => {
      const settings = {
        configured: true,
        endpointUrl: 'https://s3.amazonaws.com',
        bucket: 'b',
        region: '',
        accessKey: 'AK',
        prefix: '',
        provider: 'aws',
        pathStyle: false,
        checksumWhenRequired: false,
        hasSecretKey: true,
      };
      assert.ok(parseMessage(toWebview, { type: 'saved', settings, message: 'ok' }).ok);
      const leaky = { type: 'saved', settings: { ...settings, secretKey: 'S' }, message: 'ok' };
      assert.equal(parseMessage(toWebview, leaky).ok, false);
      const leakyInit = { type: 'init', settings: { ...settings, secretKey: 'S' }, presets: [] };
      assert.equal(parseMessage(toWebview, leakyInit).ok, false);
    });

    it('errors name form fields only', () => {
      assert.ok(
        parseMessage(toWebview, { type: 'errors', errors: { bucket: 'Bucket name must be 3–63 characters' } })
          .ok,
      );
      assert.equal(parseMessage(toWebview, { type: 'errors', errors: { secret: 'x' } }).ok, false);
    });

    it('what the service and the presets produce passes the page-bound schemas', async () => {
      const { dir, cleanup } = tempDir();
      const { store } = await ConfigStore.open(path.join(dir, 'infrakt.sqlite'), { wasmPath: WASM_PATH });
      try {
        const service = new S3SettingsService(store, new Secrets(new MemorySecretBackend()));
        const presets = S3_PRESETS.map((p) => ({ ...p }));
        const before: ToWebview = { type: 'init', settings: await service.read(), presets };
        assert.ok(parseMessage(toWebview, before).ok);
        const saved = await service.save(form());
        assert.ok(saved.ok);
        const messages: ToWebview[] = [
          { type: 'saved', settings: saved.settings, message: saved.message },
          { type: 'init', settings: await service.read(), presets },
          { type: 'warning', message: saved.warning },
          { type: 'removed', message: (await service.remove()).message },
        ];
        for (const m of messages) assert.ok(parseMessage(toWebview, m).ok, m.type);
      } finally {
        store.dispose();
        cleanup();
      }
    });
  });
});
