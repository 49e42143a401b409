// The settings page's HTML shell: a strict CSP and the two assets. The page
// itself is built by dist/webview.js (webview/main.ts). No `vscode` import, so
// it is unit-tested as text.
import { randomBytes } from 'node:crypto';

export interface PageAssets {
  /** `webview.cspSource`: the origin asWebviewUri() URIs are served from. */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce: string;
  /**
   * The first `init` message as JSON (checked against the protocol by the
   * caller), so the page shows the stored settings as soon as it is drawn
   * instead of waiting for its `ready` to be answered.
   */
  init?: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64');
}

/**
 * default-src 'none': nothing loads unless listed. Scripts: only the bundle,
 * by nonce (no inline script, no eval — the page runs zod with jitless). Styles:
 * only our stylesheet from the extension's own origin. @vscode-elements needs no
 * 'unsafe-inline': Lit puts component styles in constructable stylesheets
 * (adoptedStyleSheets), and the components set dynamic styles through the CSSOM
 * (`element.style.setProperty`), neither of which style-src governs. No fonts or
 * images are loaded (no codicons). form-action/base-uri: the form never navigates.
 */
export function contentSecurityPolicy(a: Pick<PageAssets, 'cspSource' | 'nonce'>): string {
  return [
    "default-src 'none'",
    `style-src ${a.cspSource}`,
    `script-src 'nonce-${a.nonce}'`,
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export function s3SettingsHtml(a: PageAssets): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(a))}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${attr(a.styleUri)}">
  <title>S3 Settings</title>
</head>
<body>
  <main id="app" aria-busy="true"${a.init === undefined ? '' : ` data-init="${attr(a.init)}"`}></main>
  <script nonce="${attr(a.nonce)}" src="${attr(a.scriptUri)}"></script>
</body>
</html>`;
}

function attr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
