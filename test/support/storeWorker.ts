// Runs in a child process: a second "VS Code window" working on the same store.
//   node storeWorker.js <file> add-servers <prefix> <count>
//   node storeWorker.js <file> churn          (saves in a loop until killed)
import './shellText';
import { ConfigStore } from '../../src/store/configStore';
import { WASM_PATH } from './paths';

async function main(): Promise<void> {
  const [file, action, prefix, countText] = process.argv.slice(2);
  const { store } = await ConfigStore.open(file, { wasmPath: WASM_PATH, lockTimeoutMs: 30_000 });
  if (action === 'add-servers') {
    for (let i = 0; i < Number(countText); i++) {
      store.addServer({ name: `${prefix}-${i}`, host: '127.0.0.1', user: 'root', auth: 'agent' });
    }
  } else if (action === 'churn') {
    for (let i = 0; ; i++) {
      store.saveS3Settings({
        endpointUrl: 'https://s3.amazonaws.com',
        bucket: 'churn-bucket',
        region: 'us-east-1',
        accessKey: `KEY${i}`.padEnd(4000, 'x'),
        prefix: '',
        provider: 'aws',
        pathStyle: false,
        checksumWhenRequired: false,
      });
      // After the first save, not before: on a busy machine the kill could otherwise come before any.
      if (i === 0) process.stdout.write('saved once\n');
    }
  }
  store.dispose();
}

main().catch((err) => {
  process.stderr.write(String(err instanceof Error ? err.stack : err));
  process.exit(1);
});
