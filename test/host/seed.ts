// The store the in-host suite expects, written with the project's own store
// code before VS Code starts (used by both launchers: code-server and Electron).
import { ConfigStore } from '../../src/store/configStore';
import { WASM_PATH } from '../support/paths';
import { SEED_DATABASES, SEED_SERVERS } from './seedData';

export async function seedHostStore(file: string): Promise<void> {
  const { store } = await ConfigStore.open(file, { wasmPath: WASM_PATH });
  try {
    for (const input of SEED_SERVERS) {
      const server = store.addServer(input);
      if (input.name === 'seed-web') {
        for (const db of SEED_DATABASES) store.addDatabase({ ...db, serverId: server.id });
      }
    }
  } finally {
    store.dispose();
  }
}
