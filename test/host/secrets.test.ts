// SecretStorage round trip through the extension's Secrets wrapper. The
// wrapper is reached through the extension's exports (activate() → services).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { secretKeys } from '../../src/core/secrets';
import { EXTENSION_ID } from './seedData';

interface SecretsLike {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

function exportedSecrets(exports: unknown): SecretsLike | undefined {
  if (typeof exports !== 'object' || exports === null || !('secrets' in exports)) return undefined;
  const s = (exports as { secrets: unknown }).secrets;
  if (typeof s !== 'object' || s === null) return undefined;
  const ok = ['get', 'set', 'delete'].every((m) => typeof (s as Record<string, unknown>)[m] === 'function');
  return ok ? (s as SecretsLike) : undefined;
}

describe('SecretStorage in the real extension host', () => {
  it('stores, reads back and deletes a secret through the extension', async function () {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const secrets = exportedSecrets(await ext.activate());
    if (!secrets) {
      // Pending until src/extension.ts returns its services from activate().
      console.log('      skipped: activate() exports no `secrets` (src/extension.ts returns void)');
      this.skip();
    }
    const key = secretKeys.server(`host-test-${Date.now()}`, 'password');
    const value = `pw-${Math.random().toString(36).slice(2)}`;
    assert.equal(await secrets.get(key), undefined);
    await secrets.set(key, value);
    assert.equal(await secrets.get(key), value);
    await secrets.delete(key);
    assert.equal(await secrets.get(key), undefined);
  });
});
