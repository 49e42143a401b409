import * as assert from 'node:assert/strict';
import { MemorySecretBackend, Secrets, secretKeys } from '../../src/core/secrets';

describe('Secrets', () => {
  it('removing a server removes its own secrets and its databases’, and nothing else', async () => {
    const backend = new MemorySecretBackend();
    const secrets = new Secrets(backend);
    await secrets.set(secretKeys.server('s1', 'password'), 'pw');
    await secrets.set(secretKeys.server('s1', 'passphrase'), 'pp');
    await secrets.set(secretKeys.database('d1'), 'dbpw');
    await secrets.set(secretKeys.server('s2', 'password'), 'other');
    await secrets.set(secretKeys.s3Secret(), 's3');
    await secrets.deleteServerSecrets('s1', ['d1']);
    assert.deepEqual(
      [...backend.values.keys()].sort(),
      [secretKeys.s3Secret(), secretKeys.server('s2', 'password')].sort(),
    );
  });

  it('treats an empty stored value as absent', async () => {
    const secrets = new Secrets(new MemorySecretBackend());
    await secrets.set('k', '');
    assert.equal(await secrets.get('k'), undefined);
  });
});
