// The settings page's own bundle (dist/webview.js, its stylesheet, the real
// @vscode-elements) in Chromium, with the extension's messages sent in the
// orders the extension may send them: a save is answered by `saved`, and the
// store's change sends an `init` too — before or after it. The page must show
// the same thing either way.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { S3_PRESETS } from '../../../src/core/s3/presets';
import type { ConfiguredSettings, ToExtension, ToWebview } from '../../../src/shared/protocol';
import { ensureDist } from '../codeServer';
import { launchBrowser } from '../workbench';
import { ROOT, nextShotPath, waitFor } from '../world';

const PRESETS = S3_PRESETS.map((p) => ({ ...p }));
const other = PRESETS.find((p) => p.id === 'other');
const STORED: ConfiguredSettings = {
  configured: true,
  endpointUrl: 'http://127.0.0.1:9000',
  bucket: 'infrakt-sandbox',
  region: 'us-east-1',
  accessKey: 'S3RVER',
  prefix: '',
  provider: 'other',
  pathStyle: true,
  checksumWhenRequired: true,
  hasSecretKey: false,
};

describe('The S3 settings page bundle on its own (Chromium, messages in either order)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let page: Page;
  let dir: string;

  before(async () => {
    ensureDist();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-page-'));
    // What the panel serves, minus the CSP's webview origin: the bundle and the stylesheet as files.
    const html = `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<link rel="stylesheet" href="${pathToFileURL(path.join(ROOT, 'media', 's3Settings.css')).href}">
<script>
  window.sent = [];
  window.acquireVsCodeApi = () => ({ postMessage: (m) => window.sent.push(m), getState: () => undefined, setState: () => {} });
</script></head>
<body><main id="app" aria-busy="true"></main>
<script src="${pathToFileURL(path.join(ROOT, 'dist', 'webview.js')).href}"></script></body></html>`;
    fs.writeFileSync(path.join(dir, 'page.html'), html);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    await page.goto(pathToFileURL(path.join(dir, 'page.html')).href);
    await waitFor('the page to say ready', async () =>
      (await page.evaluate(() =>
        (globalThis as unknown as { sent: ToExtension[] }).sent.some((m) => m.type === 'ready'),
      ))
        ? true
        : undefined,
    );
  });
  afterEach(() => page?.close());

  const send = (msg: ToWebview) =>
    page.evaluate(
      (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, '*'),
      msg,
    );
  const shown = async () => ({
    provider: (await page.locator('vscode-single-select#provider .select-face .text').innerText()).trim(),
    hint: (await page.locator('#provider-hint').innerText()).trim(),
  });
  const settled = () => page.waitForTimeout(300);

  for (const order of ['saved, then init', 'init, then saved'] as const) {
    it(`after a save answered "${order}", the provider shown is the saved one and matches its hint`, async () => {
      assert.ok(other);
      await send({ type: 'init', settings: STORED, presets: PRESETS });
      await page.locator('main#app[aria-busy="false"]').waitFor({ state: 'attached' });
      await settled();
      assert.deepEqual(await shown(), { provider: other.label, hint: other.hint });
      const after: ConfiguredSettings = { ...STORED, hasSecretKey: true };
      const saved: ToWebview = { type: 'saved', settings: after, message: 'S3 configuration saved' };
      const init: ToWebview = { type: 'init', settings: after, presets: PRESETS };
      for (const m of order === 'saved, then init' ? [saved, init] : [init, saved]) {
        await send(m);
        await settled();
      }
      assert.deepEqual(await shown(), { provider: other.label, hint: other.hint });
      await page.locator('vscode-badge.s3-state', { hasText: 'Saved — not tested' }).waitFor();
      await page.screenshot({ path: nextShotPath(`settings-page-provider-after-${order}`) });
    });
  }

  it('a provider the user picks stays shown (with its hint) when stored settings arrive again', async () => {
    const r2 = PRESETS.find((p) => p.id === 'r2');
    assert.ok(r2);
    await send({ type: 'init', settings: { ...STORED, hasSecretKey: true }, presets: PRESETS });
    await page.locator('main#app[aria-busy="false"]').waitFor({ state: 'attached' });
    await page.locator('vscode-single-select#provider .select-face').click();
    await page.getByRole('option', { name: r2.label }).click();
    await settled();
    assert.deepEqual(await shown(), { provider: r2.label, hint: r2.hint });
    // Another window saved (the store changed): the page's unsaved choice is kept.
    await send({ type: 'init', settings: { ...STORED, hasSecretKey: true, bucket: 'b2' }, presets: PRESETS });
    await settled();
    assert.deepEqual(await shown(), { provider: r2.label, hint: r2.hint });
  });

  it('a test result is shown with its steps and the badge; a save (or settings changed elsewhere) takes both away', async () => {
    const configured: ConfiguredSettings = { ...STORED, hasSecretKey: true };
    await send({ type: 'init', settings: configured, presets: PRESETS });
    await page.locator('vscode-badge.s3-state', { hasText: 'Saved — not tested' }).waitFor();
    const at = new Date().toISOString();
    const steps = ['put', 'head', 'get', 'list', 'delete'].map((step) => ({ step, ok: true, detail: '' }));
    await send({
      type: 'tested',
      ok: true,
      message: 'S3 connection from web-1 works',
      server: 'web-1',
      at,
      steps,
    });
    await page.locator('vscode-badge.s3-state', { hasText: /^Tested OK at \d\d:\d\d from web-1$/ }).waitFor();
    assert.equal(await page.locator('.test-steps li').filter({ visible: true }).count(), 5);

    // Another window changed the settings: its init has no test for them.
    await send({ type: 'init', settings: { ...configured, bucket: 'elsewhere' }, presets: PRESETS });
    await page.locator('vscode-badge.s3-state', { hasText: 'Saved — not tested' }).waitFor();
    assert.equal(await page.locator('.test-steps li').filter({ visible: true }).count(), 0);
    assert.equal((await page.locator('form').getByRole('status').innerText()).trim(), '');

    // Tested again, then saved here: the same.
    await send({
      type: 'tested',
      ok: false,
      message: 'S3 test from web-1 failed at put',
      server: 'web-1',
      at,
      steps,
    });
    await page
      .locator('vscode-badge.s3-state', { hasText: /^Test failed at \d\d:\d\d from web-1$/ })
      .waitFor();
    await send({ type: 'saved', settings: configured, message: 'S3 configuration saved' });
    await page.locator('vscode-badge.s3-state', { hasText: 'Saved — not tested' }).waitFor();
    assert.equal(await page.locator('.test-steps li').filter({ visible: true }).count(), 0);
    assert.equal(
      (await page.locator('form').getByRole('status').innerText()).trim(),
      'S3 configuration saved',
    );
  });
});
