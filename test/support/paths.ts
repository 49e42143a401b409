import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const WASM_PATH = path.join(path.dirname(require.resolve('sql.js')), 'sql-wasm.wasm');

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(prefix = 'infrakt-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
