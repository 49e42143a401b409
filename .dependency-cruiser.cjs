// The layer rule and the cycle check (npm run lint). Layers, from the bottom:
//   src/shared   pure helpers bundled into the webview too: imports only itself
//   src/core     pure logic, no vscode: imports only core (and npm packages)
//   src/store    the sql.js store: core
//   src/ssh      the ssh2 pool: core
//   src/platform vscode adapters: core, ssh, store — never ui
//   src/ui       commands, tree, webview host: anything below it
//   webview/     the settings page (browser): itself and src/shared
// Only platform and ui (and src/extension.ts, and the tests that run in VS Code) import vscode.
const layer = (name, from, allowed) => ({
  name: `layer-${name}`,
  comment: `${from} may import only ${allowed.join(', ')}`,
  severity: 'error',
  from: { path: `^${from}` },
  to: { path: '^(src|webview)/', pathNot: allowed.map((a) => `^${a}`) },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make load order matter and hide the real layering.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('shared', 'src/shared/', ['src/shared/']),
    layer('core', 'src/core/', ['src/core/', 'src/types/']),
    layer('store', 'src/store/', ['src/store/', 'src/core/']),
    layer('ssh', 'src/ssh/', ['src/ssh/', 'src/core/']),
    layer('platform', 'src/platform/', ['src/platform/', 'src/core/', 'src/ssh/', 'src/store/']),
    layer('ui', 'src/ui/', [
      'src/ui/',
      'src/core/',
      'src/ssh/',
      'src/store/',
      'src/platform/',
      'src/shared/',
    ]),
    layer('webview', 'webview/', ['webview/', 'src/shared/']),
    {
      name: 'vscode-only-in-platform-and-ui',
      severity: 'error',
      from: { path: '^(src/(core|shared|store|ssh)|webview|test/(unit|integration)|bench)/' },
      to: { path: '^vscode$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(out|dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
