// Alerts on the settings page, on the sandbox world (real sshd) and a real
// HTTP receiver on 127.0.0.1: add a webhook destination (its URL a canary,
// typed into a password field), Send Test Alert — the server posts it with
// curl, the page shows the HTTP status, the receiver has the body; a
// destination that is down shows the network error. The page is kept as a
// README picture.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame, Locator } from 'playwright-core';
import { type SandboxWorld, startSandboxWorld } from '../../world/sandbox';
import { seedStore } from '../../world/sandboxSeed';
import { type HttpReceiver, startHttpReceiver } from '../../world/httpReceiver';
import { infraktLogFiles } from '../codeServer';
import { useWorkbench } from '../workbench';
import { onTeardown, readmeShotPath, waitFor } from '../world';

describe('Alerts on the settings page (sandbox sshd + a real HTTP receiver)', function () {
  this.timeout(180_000);
  let w: SandboxWorld;
  let rx: HttpReceiver;
  const canary = `e2e-alert-canary-${Date.now()}`;

  before(async function () {
    this.timeout(180_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-e2e-alerts-'));
    fs.chmodSync(dir, 0o755); // PostgreSQL runs as its own user and must reach its data dir
    w = await startSandboxWorld({ dir, reusePorts: false });
    rx = await startHttpReceiver();
    onTeardown('sandbox world and receiver', async () => {
      await rx.stop();
      await w.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  const wb = useWorkbench('alerts', {
    prepare: async ({ userDataDir }) => {
      const file = path.join(userDataDir, 'User', 'globalStorage', 'infrakt.infrakt', 'infrakt.sqlite');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await seedStore(file, w);
    },
  });

  const field = (frame: Frame, id: string): Locator => frame.locator(`vscode-textfield#${id} input`);
  const button = (frame: Frame, name: string): Locator =>
    frame.getByRole('button', { name, exact: true }).filter({ visible: true });

  async function addDestination(frame: Frame, name: string, url: string): Promise<void> {
    await field(frame, 'alert-name').fill(name);
    await field(frame, 'alert-url').fill(url);
    await button(frame, 'Add Destination').click();
    await frame.locator('.alerts .status', { hasText: `Alert destination "${name}" saved` }).waitFor();
    await frame.locator('.alert-item', { hasText: name }).waitFor();
  }

  it('adds a webhook destination; Send Test Alert posts from the server and shows the HTTP status', async () => {
    await wb().openInfrakt();
    await wb().runCommand('Infrakt: Open S3 Settings');
    const frame = await wb().webviewFrame('S3 Backup Storage');
    await frame.locator('#alerts-heading').waitFor();
    assert.equal(
      await field(frame, 'alert-url').getAttribute('type'),
      'password',
      'the URL is typed like a secret',
    );
    // A URL that is not one is refused with one sentence, and nothing is saved.
    await field(frame, 'alert-name').fill('Broken');
    await field(frame, 'alert-url').fill('hooks.example.com/x');
    await button(frame, 'Add Destination').click();
    await frame.locator('.alerts .status', { hasText: /Not saved: .*must start with https:\/\// }).waitFor();
    assert.equal(await frame.locator('.alert-item').count(), 0);

    await addDestination(frame, 'Ops webhook', `${rx.url}/hook/${canary}`);
    const item = frame.locator('.alert-item', { hasText: 'Ops webhook' });
    assert.match(await item.innerText(), /Webhook \(JSON POST\), failures only/);
    assert.ok(!(await item.innerText()).includes(canary), 'the page never shows the URL again');
    await item.getByRole('button', { name: 'Send Test Alert', exact: true }).click();
    const result = item.locator('.alert-result', { hasText: /From sandbox: sent \(test\): HTTP 200/ });
    await result.waitFor({ timeout: 60_000 });
    const got = await waitFor('the receiver to get the test alert', () => rx.to('/hook/')[0]);
    assert.equal(got.path, `/hook/${canary}`);
    const body = JSON.parse(got.body) as Record<string, unknown>;
    assert.equal(body.status, 'test');
    assert.equal(body.server, 'sandbox');
    assert.equal(body.trigger, 'test');
    await wb().shot('alerts-test-sent');
  });

  it('an ntfy topic with an access token: the kind shows the token field; the test carries the token as a bearer header', async () => {
    const frame = await wb().webviewFrame('S3 Backup Storage');
    assert.equal(
      await frame.locator('vscode-textfield#alert-token').isVisible(),
      false,
      'a webhook URL carries its key',
    );
    await frame.locator('vscode-single-select#alert-kind .select-face').click();
    await frame.getByRole('option', { name: 'ntfy topic' }).click();
    await frame.locator('vscode-textfield#alert-token').waitFor({ state: 'visible' });
    await field(frame, 'alert-token').fill(`tk_${canary}`);
    await addDestination(frame, 'Phone', `${rx.url}/ntfy/${canary}`);
    const item = frame.locator('.alert-item', { hasText: 'Phone' });
    assert.match(await item.innerText(), /ntfy topic, failures only/);
    await item.getByRole('button', { name: 'Send Test Alert', exact: true }).click();
    await item.locator('.alert-result', { hasText: 'HTTP 200' }).waitFor({ timeout: 60_000 });
    const got = await waitFor('the ntfy test', () => rx.to('/ntfy/')[0]);
    assert.equal(got.headers.authorization, `Bearer tk_${canary}`);
    assert.equal(got.headers.title, 'infrakt: test on sandbox');
    assert.match(got.body, /^infrakt: test alert from sandbox — no backup ran/);
  });

  it('a destination that is down shows the network error on its row', async () => {
    const frame = await wb().webviewFrame('S3 Backup Storage');
    await addDestination(frame, 'Down', `http://127.0.0.1:1/hook/${canary}`);
    const item = frame.locator('.alert-item', { hasText: 'Down' });
    await item.getByRole('button', { name: 'Send Test Alert', exact: true }).click();
    await item
      .locator('.alert-result', {
        hasText: /From sandbox: not sent: curl: \(7\) Failed to connect to 127\.0\.0\.1 port 1/,
      })
      .waitFor({ timeout: 60_000 });
    await wb()
      .page.locator('.notification-toast', { hasText: 'Sending a test alert' })
      .waitFor({ state: 'hidden', timeout: 30_000 });
    await frame.locator('#alerts-heading').scrollIntoViewIfNeeded();
    await wb().shot('alerts-down');
    await wb().page.screenshot({ path: readmeShotPath('alerts-settings.png') });
    const log = infraktLogFiles(wb().server.userDataDir)
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
    assert.match(log, /test alert to "Down": not sent: curl: \(7\)/);
    assert.ok(!log.includes(canary), 'the URL is redacted from the log');
  });
});
