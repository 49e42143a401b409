// The bundles: the extension's entry and its code (Node, CommonJS, `vscode` external), ssh2
// and age apart, and the settings webview (browser). sql.js's wasm is copied next to the extension.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** ssh2 tries optional native add-ons inside try/catch and falls back to pure JS. */
const optionalNative = {
  name: 'optional-native',
  setup(build) {
    build.onResolve({ filter: /\.node$|^cpu-features$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * ssh2 as a bundle of its own (dist/ssh2.js), required by the extension on its first SSH
 * connection: the code activation loads and parses stays small.
 */
const ssh2Apart = {
  name: 'ssh2-apart',
  setup(build) {
    build.onResolve({ filter: /^ssh2$/ }, () => ({ path: './ssh2.js', external: true }));
    // age-encryption likewise (dist/age.js): loaded when a key is made, read or a download decrypted.
    build.onResolve({ filter: /^age-encryption$/ }, () => ({ path: './age.js', external: true }));
  },
};

const common = {
  bundle: true,
  minify: production,
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'info',
  // The remote layer's shell modules are bundled as text.
  loader: { '.sh': 'text' },
};

/**
 * The entry VS Code loads (dist/extension.js) is a few registrations; the extension's code is
 * dist/main.js, required just after activate() returned (src/entry.ts).
 */
const mainApart = {
  name: 'main-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/extension$/ }, () => ({ path: './main.js', external: true }));
  },
};

const entry = {
  ...common,
  entryPoints: ['src/entry.ts'],
  outfile: 'dist/extension.js',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  plugins: [mainApart],
};

const extension = {
  ...common,
  entryPoints: { main: 'src/extension.ts' },
  outdir: 'dist',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  plugins: [optionalNative, ssh2Apart],
};

const ssh2 = {
  ...common,
  entryPoints: { ssh2: 'node_modules/ssh2/lib/index.js' },
  outdir: 'dist',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  plugins: [optionalNative],
};

const age = {
  ...common,
  entryPoints: { age: 'node_modules/age-encryption/dist/index.js' },
  outdir: 'dist',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
};

const webview = {
  ...common,
  entryPoints: ['webview/main.ts'],
  outfile: 'dist/webview.js',
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
};

mkdirSync('dist', { recursive: true });
copyFileSync('node_modules/sql.js/dist/sql-wasm.wasm', 'dist/sql-wasm.wasm');

if (watch) {
  const contexts = await Promise.all([entry, extension, ssh2, age, webview].map((o) => esbuild.context(o)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all([entry, extension, ssh2, age, webview].map((o) => esbuild.build(o)));
}
