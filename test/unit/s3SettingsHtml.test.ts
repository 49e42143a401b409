import * as assert from 'node:assert/strict';
import { parseMessage, toWebview } from '../../src/shared/protocol';
import { contentSecurityPolicy, makeNonce, s3SettingsHtml } from '../../src/ui/webview/s3SettingsHtml';

describe('S3 settings page HTML', () => {
  const assets = {
    cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
    nonce: makeNonce(),
    scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js',
    styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/s3Settings.css',
  };

  it('has a strict CSP: nothing by default, the script by nonce, styles from the extension only', () => {
    const csp = contentSecurityPolicy(assets);
    assert.match(csp, /^default-src 'none'/);
    assert.ok(csp.includes(`script-src 'nonce-${assets.nonce}'`));
    assert.ok(csp.includes(`style-src ${assets.cspSource}`));
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'));
  });

  it('loads only the bundle (with the nonce) and the stylesheet; no inline script or style', () => {
    const html = s3SettingsHtml(assets);
    assert.equal((html.match(/<script\b/g) ?? []).length, 1);
    assert.ok(html.includes(`<script nonce="${assets.nonce}" src="${assets.scriptUri}"></script>`));
    assert.ok(html.includes(`<link rel="stylesheet" href="${assets.styleUri}">`));
    assert.ok(!/<style\b|\sstyle=|\son[a-z]+=/i.test(html));
  });

  it('nonces are fresh and CSP-safe', () => {
    const a = makeNonce();
    assert.notEqual(a, makeNonce());
    assert.match(a, /^[A-Za-z0-9+/]{24}$/);
  });

  it('carries the stored settings as the first init, escaped into an attribute the page reads before any message', () => {
    const init = JSON.stringify({
      type: 'init',
      settings: {
        configured: true,
        endpointUrl: 'https://s3.example.com/"><script>alert(1)</script>',
        bucket: 'b',
        region: 'r',
        accessKey: 'AK & <co>',
        prefix: '',
        provider: 'aws',
        pathStyle: false,
        checksumWhenRequired: false,
        hasSecretKey: true,
      },
      presets: [],
    });
    const html = s3SettingsHtml({ ...assets, init });
    assert.equal((html.match(/<script\b/g) ?? []).length, 1, 'no markup from the values');
    const attr = /<main id="app" aria-busy="true" data-init="([^"]*)"><\/main>/.exec(html)?.[1];
    assert.ok(attr, html);
    const decoded = attr
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
    assert.equal(decoded, init);
    const parsed = parseMessage(toWebview, JSON.parse(decoded));
    assert.ok(parsed.ok && parsed.message.type === 'init');
    assert.ok(!s3SettingsHtml(assets).includes('data-init'), 'no attribute without settings');
  });

  it('escapes asset URIs into attributes', () => {
    const html = s3SettingsHtml({ ...assets, scriptUri: 'https://x/"><script>alert(1)</script>' });
    assert.equal((html.match(/<script\b/g) ?? []).length, 1);
  });
});
