// The "S3 Backup Storage" settings page in the real webview (nested iframes,
// @vscode-elements web components), driven like a person would: the form and
// its fields by their placeholders, Save → the VS Code notification and the
// "Saved — not tested" badge, the settings back after a reload (the secret never shown),
// a bad bucket name refused beside the field, Remove confirmed in a modal
// dialog, and the page in a dark and a light theme. The theme screenshots and
// one of the configured page are also kept as README pictures (readmeShotPath).
import * as assert from 'node:assert/strict';
import type { Frame, Locator } from 'playwright-core';
import { type Workbench, exactly, useWorkbench } from '../workbench';
import { readmeShotPath, recordTiming } from '../world';

const VIEWPORT = { width: 1280, height: 900 };

const PLACEHOLDER = {
  endpointUrl: 'https://s3.amazonaws.com',
  bucket: 'my-backups',
  region: 'us-east-1',
  accessKey: 'AKIAIOSFODNN7EXAMPLE',
  secretNew: 'Required: paste your secret access key',
  secretKeep: '••••••••  (leave blank to keep)',
  prefix: 'infrakt/backups/',
};

const SETTINGS = {
  endpointUrl: 'https://s3.eu-central-1.amazonaws.com',
  bucket: 'infrakt-e2e-backups',
  region: 'eu-central-1',
  accessKey: 'AKIAE2ETESTKEY000001',
  secretKey: 'e2e/Secret+Key/not-a-real-one',
  prefix: 'prod/db/',
};

/**
 * The real <input> of a vscode-textfield, found by its placeholder: getByPlaceholder
 * pierces the component's open shadow root. The page sets `placeholder` as a
 * property, so only the inner input carries the attribute; `.and(input)` keeps it
 * that way if the host ever has it too (markup with a placeholder attribute does).
 */
const byPlaceholder = (frame: Frame, placeholder: string): Locator =>
  frame.getByPlaceholder(placeholder, { exact: true }).and(frame.locator('input'));

const button = (frame: Frame, name: string): Locator =>
  frame.getByRole('button', { name, exact: true }).filter({ visible: true });

const badge = (frame: Frame): Locator => frame.locator('vscode-badge.s3-state');

/** Waits until the page has the stored settings (`init` answered: it drops aria-busy). */
async function settingsPage(wb: Workbench): Promise<Frame> {
  const frame = await wb.webviewFrame('S3 Backup Storage');
  await frame.locator('main#app[aria-busy="false"]').waitFor({ state: 'attached', timeout: 30_000 });
  return frame;
}

/** Opens the page from the palette; what it then shows is what is stored. */
async function openS3Settings(wb: Workbench, label: string): Promise<Frame> {
  const started = Date.now();
  await wb.waitForExtensionsRegistered(); // else the palette may not list the command yet
  await wb.runCommand('Infrakt: Open S3 Settings');
  const frame = await settingsPage(wb);
  recordTiming(`S3 settings page open (${label})`, Date.now() - started);
  return frame;
}

/** The form shows the stored settings and never the secret, whose field says a blank one keeps it. */
async function assertStoredSettingsShown(frame: Frame): Promise<void> {
  await badge(frame).waitFor({ state: 'visible' });
  const { secretKey: _secret, ...expected } = SETTINGS;
  assert.deepEqual(await values(frame), { ...expected, secretKey: '' });
  const secret = byPlaceholder(frame, PLACEHOLDER.secretKeep);
  assert.equal(await secret.inputValue(), '', 'the stored secret is never shown');
  assert.equal(await secret.getAttribute('type'), 'password');
  await button(frame, 'Remove').waitFor({ state: 'visible' });
}

/** The page's text colour as a brightness 0–255: it comes from the theme. */
async function textBrightness(frame: Frame): Promise<number> {
  const color = await frame.locator('body').evaluate((b) => {
    const { getComputedStyle } = globalThis as unknown as {
      getComputedStyle(e: unknown): { color: string };
    };
    return getComputedStyle(b).color;
  });
  const [r, g, b] = (color.match(/\d+/g) ?? []).map(Number);
  return (r + g + b) / 3;
}

/** Closes the page (and every editor) and waits until its tab is gone, so no old frame is found again. */
async function closePage(wb: Workbench): Promise<void> {
  await wb.closeAllEditors();
  await wb.activeEditorTab().waitFor({ state: 'detached' });
}

/** Saves a README screenshot of the whole workbench. */
async function docsShot(wb: Workbench, name: string): Promise<void> {
  await wb.page.screenshot({ path: readmeShotPath(name) });
}

/**
 * Reloads like a person would (Developer: Reload Window): the workbench shuts
 * down first, so its open editors and webview states are stored before the page goes.
 */
async function reloadWindow(wb: Workbench): Promise<void> {
  const started = Date.now();
  const loaded = wb.page.waitForEvent('load', { timeout: 60_000 });
  await wb.runCommand('Developer: Reload Window');
  await loaded;
  await wb.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await wb.page.locator('.activitybar').waitFor({ timeout: 30_000 });
  recordTiming('workbench reload (Reload Window)', Date.now() - started);
}

async function values(frame: Frame): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const id of ['endpointUrl', 'bucket', 'region', 'accessKey', 'secretKey', 'prefix']) {
    out[id] = await frame.locator(`vscode-textfield#${id} input`).inputValue();
  }
  return out;
}

describe('S3 settings page', function () {
  this.timeout(90_000);

  describe('in a dark theme', () => {
    const wb = useWorkbench('s3-settings-dark');
    // Tall enough for the whole form, its buttons and the status line below them.
    before(() => wb().page.setViewportSize(VIEWPORT));

    it('opens with the heading, the endpoint, bucket and access-key fields and Save; not connected yet', async () => {
      await wb().openInfrakt(); // the Servers view beside the page in the screenshots
      const frame = await openS3Settings(wb(), 'first time');
      await frame.getByRole('heading', { name: 'S3 Backup Storage' }).waitFor({ state: 'visible' });
      const matched = await frame
        .getByPlaceholder(PLACEHOLDER.bucket, { exact: true })
        .evaluateAll((els) => els.map((e) => (e as unknown as { tagName: string }).tagName.toLowerCase()));
      console.log(`      getByPlaceholder("${PLACEHOLDER.bucket}") matches: ${matched.join(', ')}`);
      for (const p of [PLACEHOLDER.endpointUrl, PLACEHOLDER.bucket, PLACEHOLDER.accessKey]) {
        const input = byPlaceholder(frame, p);
        await input.waitFor({ state: 'visible' });
        assert.equal(await input.inputValue(), '', `the "${p}" field starts empty`);
      }
      const secret = byPlaceholder(frame, PLACEHOLDER.secretNew);
      assert.equal(await secret.getAttribute('type'), 'password', 'the secret is typed into a masked field');
      await button(frame, 'Save').waitFor({ state: 'visible' });
      assert.equal(await badge(frame).isVisible(), false, 'no badge before a save');
      assert.equal(await button(frame, 'Remove').count(), 0, 'no Remove button before a save');
      assert.equal(await wb().page.locator('.monaco-workbench.vs-dark').count(), 1, 'the workbench is dark');
      await frame.locator('body.vscode-dark').waitFor({ state: 'attached' });
      assert.ok((await textBrightness(frame)) > 128, 'light text on the dark theme');
      await wb().shot('s3-page-dark-empty');
      await docsShot(wb(), 's3-settings-dark.png');
    });

    it('filling the form and saving shows "S3 configuration saved", the "Saved — not tested" badge and Remove', async () => {
      const frame = await wb().webviewFrame('S3 Backup Storage');
      await byPlaceholder(frame, PLACEHOLDER.endpointUrl).fill(SETTINGS.endpointUrl);
      await byPlaceholder(frame, PLACEHOLDER.bucket).fill(SETTINGS.bucket);
      await byPlaceholder(frame, PLACEHOLDER.region).fill(SETTINGS.region);
      await byPlaceholder(frame, PLACEHOLDER.accessKey).fill(SETTINGS.accessKey);
      await byPlaceholder(frame, PLACEHOLDER.secretNew).fill(SETTINGS.secretKey);
      await byPlaceholder(frame, PLACEHOLDER.prefix).fill(SETTINGS.prefix);
      await wb().shot('s3-page-filled');
      await button(frame, 'Save').click();
      await wb().waitForToastDrawn('S3 configuration saved');
      await badge(frame).waitFor({ state: 'visible' });
      // Saved is not connected: nothing has reached the bucket yet.
      assert.equal((await badge(frame).innerText()).trim(), 'Saved — not tested');
      await button(frame, 'Remove').waitFor({ state: 'visible' });
      await frame.getByRole('status').filter({ hasText: 'S3 configuration saved' }).waitFor();
      // After the save the secret is cleared and the field says a blank one keeps it.
      const secret = byPlaceholder(frame, PLACEHOLDER.secretKeep);
      await secret.waitFor({ state: 'visible' });
      assert.equal(await secret.inputValue(), '');
      await wb().shot('s3-page-saved');
      await docsShot(wb(), 's3-settings-configured.png');
    });

    it('after a reload the page shows the saved settings again, the secret blank ("leave blank to keep")', async () => {
      // Closed first: whether code-server restores an open tab after a reload
      // depends on whether its state reached IndexedDB as the page unloaded.
      await closePage(wb());
      await wb().load();
      const frame = await openS3Settings(wb(), 'after a reload');
      await assertStoredSettingsShown(frame);
      await wb().shot('s3-page-after-reload');
    });

    it('a bad bucket name is refused beside the field and nothing is saved', async () => {
      await wb().clearNotifications();
      const frame = await wb().webviewFrame('S3 Backup Storage');
      const bucket = byPlaceholder(frame, PLACEHOLDER.bucket);
      await bucket.fill('Bad_Bucket');
      await bucket.press('Tab'); // leaving the field shows its error
      const error = frame.locator('#bucket-error');
      await error
        .filter({ hasText: 'Bucket name may use only lowercase letters' })
        .waitFor({ state: 'visible' });
      await frame.locator('vscode-textfield#bucket[invalid]').waitFor({ state: 'attached' });
      await wb().shot('s3-page-bad-bucket');

      await button(frame, 'Save').click();
      // The answer to the save: the page says it was not saved and goes to the field.
      await frame
        .getByRole('status')
        .filter({ hasText: 'Not saved: fix the highlighted fields.' })
        .waitFor({ state: 'visible' });
      assert.equal(
        await frame.locator('[id$="-error"]').filter({ visible: true }).count(),
        1,
        'only the bucket has an error',
      );
      assert.deepEqual(
        (await wb().toastTexts()).filter((t) => /saved/i.test(t)),
        [],
        'no "saved" notification',
      );
      await wb().shot('s3-page-bad-bucket-save');

      await closePage(wb());
      const reopened = await openS3Settings(wb(), 'reopened');
      assert.equal(await byPlaceholder(reopened, PLACEHOLDER.bucket).inputValue(), SETTINGS.bucket);
      assert.equal(await reopened.locator('#bucket-error').isVisible(), false);
      await wb().shot('s3-page-bad-bucket-reopened');
    });

    it('Remove asks first (Cancel keeps the settings), then "S3 configuration removed" and an empty form', async () => {
      const frame = await wb().webviewFrame('S3 Backup Storage');
      await button(frame, 'Remove').click();
      await wb().dialog().waitFor({ state: 'visible', timeout: 30_000 });
      const text = await wb().dialog().innerText();
      assert.match(text, /Remove the S3 configuration\?/);
      assert.match(text, /Backups already in the bucket are not touched/);
      await wb().shot('s3-page-remove-dialog');
      await wb().answerDialog('Cancel');
      assert.equal(await badge(frame).isVisible(), true, 'Cancel keeps the settings');
      assert.equal(await byPlaceholder(frame, PLACEHOLDER.bucket).inputValue(), SETTINGS.bucket);

      await button(frame, 'Remove').click();
      await wb().answerDialog('Remove');
      await wb().waitForToastDrawn('S3 configuration removed');
      await badge(frame).waitFor({ state: 'hidden' });
      await frame.getByRole('status').filter({ hasText: 'S3 configuration removed' }).waitFor();
      assert.deepEqual(await values(frame), {
        endpointUrl: '',
        bucket: '',
        region: '',
        accessKey: '',
        secretKey: '',
        prefix: '',
      });
      await byPlaceholder(frame, PLACEHOLDER.secretNew).waitFor({ state: 'visible' });
      assert.equal(await button(frame, 'Remove').count(), 0, 'no Remove button once removed');
      await wb().shot('s3-page-removed');

      // Gone from the store too, not just from the page.
      await closePage(wb());
      const reopened = await openS3Settings(wb(), 'reopened');
      assert.equal(await badge(reopened).isVisible(), false);
      assert.equal(await byPlaceholder(reopened, PLACEHOLDER.endpointUrl).inputValue(), '');
    });
  });

  describe('restored after a reload', () => {
    const wb = useWorkbench('s3-settings-restored');
    const TYPED = 'typed-before-reload';
    const s3Tabs = () =>
      wb()
        .page.locator('.tabs-container .tab')
        .filter({ hasText: exactly('S3 Settings') });

    // The bug: the restored tab is revived only once shown, so the command opened
    // a second page, and showing the restored one then closed the page being typed in.
    it('Open S3 Settings reveals the restored tab: still one S3 Settings tab, the typed input kept', async () => {
      const frame = await openS3Settings(wb(), 'before a reload');
      await byPlaceholder(frame, PLACEHOLDER.bucket).fill(TYPED); // not saved: kept in the webview state
      // Another editor in front, so after the reload the page's tab is restored hidden (not revived yet).
      await wb().runCommand('Preferences: Open User Settings (JSON)');
      await wb().activeEditorTab().filter({ hasText: 'settings.json' }).waitFor();
      await reloadWindow(wb());

      await s3Tabs().first().waitFor({ state: 'attached', timeout: 30_000 });
      await wb().activeEditorTab().filter({ hasText: 'settings.json' }).waitFor();
      const restored = await openS3Settings(wb(), 'restored tab');
      await wb()
        .activeEditorTab()
        .filter({ hasText: exactly('S3 Settings') })
        .waitFor();
      assert.equal(await byPlaceholder(restored, PLACEHOLDER.bucket).inputValue(), TYPED);
      assert.equal(await s3Tabs().count(), 1, 'one S3 Settings tab');
      await wb().shot('s3-page-restored');

      // Away and back: the page is rebuilt from its state, still the only one.
      await wb().editorTab('settings.json').click();
      await wb().activeEditorTab().filter({ hasText: 'settings.json' }).waitFor();
      await s3Tabs().first().click();
      const again = await settingsPage(wb());
      assert.equal(await byPlaceholder(again, PLACEHOLDER.bucket).inputValue(), TYPED);
      assert.equal(await s3Tabs().count(), 1, 'still one S3 Settings tab');
    });
  });

  describe('with no answer to its "ready"', () => {
    const wb = useWorkbench('s3-settings-no-init');
    // Every `init` message the page would get is dropped before its own listener
    // sees it: each frame's addEventListener is wrapped as the frame starts (the
    // webview writes its page into a frame that already exists, which erases
    // listeners but keeps this wrapper). What the page shows is what came with its HTML.
    before(() =>
      wb()
        .page.context()
        .addInitScript(() => {
          type Listener = (this: unknown, e: { data?: { type?: string } }) => unknown;
          const g = globalThis as unknown as {
            EventTarget: { prototype: { addEventListener(...a: unknown[]): void } };
            document: { getElementById(id: string): unknown };
          };
          const proto = g.EventTarget.prototype;
          const add = proto.addEventListener;
          proto.addEventListener = function (this: unknown, type: unknown, fn: unknown, ...rest: unknown[]) {
            if (type === 'message' && this === globalThis && typeof fn === 'function') {
              const inner = fn as Listener;
              const filtered: Listener = function (this: unknown, e) {
                if (e.data?.type === 'init' && g.document.getElementById('app')) return undefined;
                return inner.call(this, e);
              };
              return add.call(this, type, filtered, ...rest);
            }
            return add.call(this, type, fn, ...rest);
          };
        }),
    );

    it('opens with the stored settings in its fields and Save enabled at once', async () => {
      await wb().load(); // the init script applies to documents loaded from now on
      await wb().waitForExtensionsRegistered();
      await wb().runCommand('Infrakt: Open S3 Settings');
      let frame = await settingsPage(wb());
      const save = frame.locator('vscode-button[type="submit"]');
      assert.equal(await save.evaluate((b) => (b as unknown as { disabled: boolean }).disabled), false);
      await byPlaceholder(frame, PLACEHOLDER.endpointUrl).fill(SETTINGS.endpointUrl);
      await byPlaceholder(frame, PLACEHOLDER.bucket).fill(SETTINGS.bucket);
      await byPlaceholder(frame, PLACEHOLDER.region).fill(SETTINGS.region);
      await byPlaceholder(frame, PLACEHOLDER.accessKey).fill(SETTINGS.accessKey);
      await byPlaceholder(frame, PLACEHOLDER.secretNew).fill(SETTINGS.secretKey);
      await byPlaceholder(frame, PLACEHOLDER.prefix).fill(SETTINGS.prefix);
      await button(frame, 'Save').click();
      await wb().waitForToast('S3 configuration saved');

      await closePage(wb());
      await wb().runCommand('Infrakt: Open S3 Settings');
      frame = await settingsPage(wb());
      await assertStoredSettingsShown(frame);
      assert.equal(
        await frame
          .locator('vscode-button[type="submit"]')
          .evaluate((b) => (b as unknown as { disabled: boolean }).disabled),
        false,
        'Save is enabled',
      );
      await wb().shot('s3-page-stored-without-init');
    });
  });

  describe('in an 800 px tall window', () => {
    const wb = useWorkbench('s3-settings-800px');

    it('Save is on screen without scrolling', async () => {
      assert.equal(wb().page.viewportSize()?.height, 800);
      const frame = await openS3Settings(wb(), '800 px window');
      // Where Save ends in the page (not scrolled), against the webview's height.
      const { bottom, height } = await button(frame, 'Save').evaluate((el) => {
        const w = globalThis as unknown as { innerHeight: number; scrollY: number };
        const box = (
          el as unknown as { getBoundingClientRect(): { bottom: number } }
        ).getBoundingClientRect();
        return { bottom: box.bottom + w.scrollY, height: w.innerHeight };
      });
      console.log(`      Save ends at ${Math.round(bottom)} px of a ${height} px tall page`);
      assert.ok(bottom <= height, `Save ends at ${bottom} px, below the ${height} px the page shows`);
      await wb().shot('s3-page-800px');
    });
  });

  describe('in a light theme', () => {
    const wb = useWorkbench('s3-settings-light', { theme: 'Default Light Modern' });
    before(() => wb().page.setViewportSize(VIEWPORT));

    it('the page follows the light theme', async () => {
      await wb().openInfrakt();
      const frame = await openS3Settings(wb(), 'light theme');
      await frame.getByRole('heading', { name: 'S3 Backup Storage' }).waitFor({ state: 'visible' });
      assert.equal(await wb().page.locator('.monaco-workbench.vs').count(), 1, 'the workbench is light');
      await frame.locator('body.vscode-light').waitFor({ state: 'attached' });
      assert.ok((await textBrightness(frame)) < 128, 'dark text on the light theme');
      await button(frame, 'Save').waitFor({ state: 'visible' });
      await wb().shot('s3-page-light-empty');
      await docsShot(wb(), 's3-settings-light.png');
    });
  });
});
