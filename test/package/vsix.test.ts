// Checks the packaged VSIX (built by `npm run package` just before this runs).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

const root = path.join(__dirname, '..', '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const vsix = path.join(root, `infrakt-${pkg.version}.vsix`);

describe('packaged VSIX', () => {
  let entries: string[];
  before(() => {
    assert.ok(fs.existsSync(vsix), `${vsix} missing — run npm run package`);
    entries = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).split('\n').filter(Boolean);
  });

  it('contains the extension bundle, ssh2 (loaded on the first connection), age (loaded for a key or a decryption), the webview bundle and the sql.js wasm', () => {
    for (const f of [
      'extension/dist/extension.js',
      'extension/dist/main.js',
      'extension/dist/ssh2.js',
      'extension/dist/age.js',
      'extension/dist/webview.js',
      'extension/dist/sql-wasm.wasm',
      'extension/package.json',
    ]) {
      assert.ok(entries.includes(f), `${f} not in VSIX`);
    }
  });

  it('contains no sources, tests, TypeScript or node_modules', () => {
    const bad = entries.filter(
      (e) => /^extension\/(src|test|node_modules|out|webview|bench|scripts)\//.test(e) || /\.ts$/.test(e),
    );
    assert.deepEqual(bad, []);
  });

  it('is at most 3 MB', () => {
    const size = fs.statSync(vsix).size;
    console.log(`      VSIX size: ${(size / 1024).toFixed(0)} KB (${entries.length} files)`);
    assert.ok(size <= 3 * 1024 * 1024, `VSIX is ${size} bytes`);
  });

  it('declares no startup activation', () => {
    const manifest = JSON.parse(
      execFileSync('unzip', ['-p', vsix, 'extension/package.json'], { encoding: 'utf8' }),
    ) as { activationEvents?: string[] };
    const bad = (manifest.activationEvents ?? []).filter((e) => e === '*' || e === 'onStartupFinished');
    assert.deepEqual(bad, []);
  });
});
