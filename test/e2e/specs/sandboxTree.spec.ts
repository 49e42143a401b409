// The first hour on the sandbox world, as `npm run sandbox` leaves it: the
// store seeded (server, database "shop" keeping its newest backup in S3, S3
// settings without the secret, which is per computer). What a new user meets:
// the server row says whether it needs Provision Server; the S3 warning row
// fits the default side bar and goes as soon as the secret is saved (no
// Refresh); the settings page's badge tells the truth, keeps the provider
// after a save and has its buttons on screen at 1280×800; Back Up Now's
// retention shows in the tree at once; backup rows show where, size and age
// at the default side-bar width; the log has a readable line per action.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame, Locator } from 'playwright-core';
import { S3_PRESETS } from '../../../src/core/s3/presets';
import { ConfigStore } from '../../../src/store/configStore';
import { WASM_PATH } from '../../support/paths';
import { type SandboxWorld, startSandboxWorld } from '../../world/sandbox';
import { seedStore } from '../../world/sandboxSeed';
import { infraktLogFiles } from '../codeServer';
import { type Workbench, useWorkbench } from '../workbench';
import { onTeardown, waitFor } from '../world';

describe('The sandbox as `npm run sandbox` seeds it (sshd + s3rver + PostgreSQL; S3 secret not entered yet)', function () {
  this.timeout(180_000);
  let w: SandboxWorld;

  // Registered before the workbench's: the world must be up when the store is seeded.
  before(async function () {
    this.timeout(180_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-e2e-sandbox-'));
    fs.chmodSync(dir, 0o755); // PostgreSQL runs as its own user and must reach its data dir
    w = await startSandboxWorld({ dir, reusePorts: false });
    onTeardown('sandbox world', async () => {
      await w.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  const wb = useWorkbench('sandbox-first-hour', {
    prepare: async ({ userDataDir }) => {
      const file = path.join(userDataDir, 'User', 'globalStorage', 'infrakt.infrakt', 'infrakt.sqlite');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const seed = await seedStore(file, w);
      const { store } = await ConfigStore.open(file, { wasmPath: WASM_PATH });
      try {
        store.setRetention(seed.databaseId, { s3: { last: 1 } });
      } finally {
        store.dispose();
      }
    },
  });

  const badge = (frame: Frame): Locator => frame.locator('vscode-badge.s3-state');
  const button = (frame: Frame, name: string): Locator =>
    frame.getByRole('button', { name, exact: true }).filter({ visible: true });

  async function openSettings(): Promise<Frame> {
    await wb().runCommand('Infrakt: Open S3 Settings');
    const frame = await wb().webviewFrame('S3 Backup Storage');
    await frame.locator('main#app[aria-busy="false"]').waitFor({ state: 'attached', timeout: 30_000 });
    return frame;
  }

  /** The label a row shows in full: its right edge inside the row's label container (nothing cut to "…"). */
  async function labelFits(row: Locator): Promise<{ text: string; fits: boolean }> {
    const name = row.locator('.label-name').first();
    const text = (await name.innerText()).trim();
    const box = await name.boundingBox();
    const container = await row.locator('.monaco-icon-label-container').first().boundingBox();
    assert.ok(box && container);
    return { text, fits: box.x + box.width <= container.x + container.width + 0.5 };
  }

  /** The text the provider select shows, and the hint under it. */
  async function provider(frame: Frame): Promise<{ shown: string; hint: string }> {
    const shown = await frame.locator('vscode-single-select#provider .select-face .text').innerText();
    const hint = await frame.locator('#provider-hint').innerText();
    return { shown: shown.trim(), hint: hint.trim() };
  }

  /**
   * The row's hover once it holds `containing`. A hover shows the tooltip the row had when
   * it opened, and a redraw of the row (its server's listing arriving) closes it without a
   * new one until the mouse moves: so the mouse leaves and comes back until it is there.
   */
  async function hoverText(wbench: Workbench, row: Locator, containing: string): Promise<string> {
    const hover = wbench.page
      .locator('.workbench-hover, .monaco-hover')
      .filter({ hasText: containing })
      .first();
    const deadline = Date.now() + 30_000;
    for (;;) {
      await wbench.page.mouse.move(0, 0);
      await row.hover();
      try {
        await hover.waitFor({ state: 'visible', timeout: 3_000 });
        return await hover.innerText();
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
  }

  it('the server says its tools are there (no Provision needed); the S3 row fits the default side bar and says why', async () => {
    await wb().openInfrakt();
    const sideBar = await wb().page.locator('.part.sidebar').boundingBox();
    console.log(`      side bar width: ${Math.round(sideBar?.width ?? 0)} px (the default)`);
    const server = wb().treeRow('sandbox');
    await server.waitFor({ state: 'visible', timeout: 30_000 });
    await server.click();
    const warning = wb().treeRow('S3 copies not listed');
    await warning.waitFor({ state: 'visible', timeout: 60_000 });
    assert.equal(
      (await warning.locator('.label-description').innerText()).trim(),
      'no S3 secret key on this computer',
    );
    assert.deepEqual(await labelFits(warning), { text: 'S3 copies not listed', fits: true });
    await wb()
      .treeRow('shop')
      .locator('.label-description', { hasText: 'no backups' })
      .waitFor({ timeout: 30_000 });
    const tooltip = await hoverText(wb(), server, 'found on the server');
    assert.match(
      tooltip,
      /Not provisioned by infrakt, and not needed: awscli, pg_dump, pg_restore, psql found on the server/,
    );
    assert.doesNotMatch(tooltip, /run Provision Server/);
    await wb().shot('sandbox-tree-secret-missing');
  });

  it('the settings page: "Secret key missing", its buttons on screen at 1280×800; Save → "Saved — not tested", the provider kept, and the tree lists S3 at once', async () => {
    assert.deepEqual(wb().page.viewportSize(), { width: 1280, height: 800 });
    const frame = await openSettings();
    await badge(frame).filter({ hasText: 'Secret key missing on this computer' }).waitFor();
    const other = S3_PRESETS.find((p) => p.id === 'other');
    assert.ok(other);
    assert.deepEqual(await provider(frame), { shown: other.label, hint: other.hint });
    // The tallest state of the page (the missing-secret notice shown), not scrolled: the S3 form's
    // buttons (the Alerts section below it is reached by scrolling).
    const boxes = await frame.evaluate(() => {
      const g = globalThis as unknown as {
        innerHeight: number;
        scrollY: number;
        document: { querySelectorAll(s: string): ArrayLike<unknown> };
      };
      const out: { text: string; top: number; bottom: number }[] = [];
      for (const b of Array.from(g.document.querySelectorAll('form vscode-button')) as {
        textContent: string;
        hidden: boolean;
        getBoundingClientRect(): { top: number; bottom: number };
      }[]) {
        if (b.hidden) continue;
        const r = b.getBoundingClientRect();
        out.push({ text: b.textContent.trim(), top: r.top, bottom: r.bottom });
      }
      return { buttons: out, height: g.innerHeight, scrollY: g.scrollY };
    });
    assert.equal(boxes.scrollY, 0);
    assert.deepEqual(
      boxes.buttons.map((b) => b.text),
      ['Save', 'Test Connection', 'Remove'],
    );
    for (const b of boxes.buttons)
      assert.ok(
        b.top >= 0 && b.bottom <= boxes.height,
        `${b.text} spans ${Math.round(b.top)}–${Math.round(b.bottom)} px of a ${boxes.height} px view`,
      );
    await wb().shot('sandbox-s3-page-secret-missing');

    await frame.locator('vscode-textfield#secretKey input').fill(w.s3.secretKey);
    await button(frame, 'Save').click();
    await wb().waitForToast('S3 configuration saved');
    await badge(frame).filter({ hasText: 'Saved — not tested' }).waitFor();
    // The tree, beside the page, lists S3 again without a Refresh.
    await wb().treeRow('S3 copies not listed').waitFor({ state: 'detached', timeout: 60_000 });
    // By now the store's change has reached the page too (an `init` after the save): still "Other".
    assert.deepEqual(await provider(frame), { shown: other.label, hint: other.hint });
    await wb().shot('sandbox-s3-page-saved');
  });

  it('Test Connection → "Tested OK at <time> from sandbox"; a save makes that result go; it is kept across reopening', async () => {
    const frame = await wb().webviewFrame('S3 Backup Storage');
    const okBadge = badge(frame).filter({ hasText: /^Tested OK at \d\d:\d\d from sandbox$/ });
    const steps = frame.locator('.test-steps li');
    await button(frame, 'Test Connection').click();
    await steps.nth(4).waitFor({ state: 'visible', timeout: 60_000 });
    await okBadge.waitFor();
    await wb().shot('sandbox-s3-page-tested');

    // The settings change (the secret typed again) and are saved: the result no longer describes them.
    await frame.locator('vscode-textfield#secretKey input').fill(w.s3.secretKey);
    await button(frame, 'Save').click();
    await badge(frame).filter({ hasText: 'Saved — not tested' }).waitFor();
    assert.equal(await steps.filter({ visible: true }).count(), 0, 'the old steps are gone');
    await frame.getByRole('status').filter({ hasText: 'S3 configuration saved' }).waitFor();
    await wb().shot('sandbox-s3-page-saved-after-test');

    await button(frame, 'Test Connection').click();
    await okBadge.waitFor({ timeout: 60_000 });
    await wb().closeAllEditors();
    const reopened = await openSettings();
    await badge(reopened)
      .filter({ hasText: /^Tested OK at \d\d:\d\d from sandbox$/ })
      .waitFor();
    await wb().closeAllEditors();
  });

  it('Back Up Now twice (newest 1 kept in S3): the older backup shows as Local at once; where, size and age fit the default side bar', async () => {
    const rowsOf = (re: RegExp) =>
      wb()
        .treeRows()
        .filter({ has: wb().page.locator('.label-name', { hasText: re }) });
    const both = /^S3 \+ Local · [\d.]+ (B|KB|MB) · just now$/;
    const localOnly = /^Local · [\d.]+ (B|KB|MB) · just now$/;
    await wb().contextMenu(wb().treeRow('shop'), 'Back Up Now');
    await wb().waitForToast(/Backup of shop on sandbox saved: .*and uploaded to S3\./);
    await wb().treeRow('shop').click();
    await rowsOf(both).first().waitFor({ state: 'visible', timeout: 30_000 });

    await wb().clearNotifications();
    await wb().contextMenu(wb().treeRow('shop'), 'Back Up Now');
    await wb().waitForToast(
      /Backup of shop on sandbox saved: .*and uploaded to S3\. Retention deleted 1 in S3/,
    );
    // No Refresh: the listing after the backup already has retention's deletion.
    await waitFor(
      'one "S3 + Local" and one "Local" backup row',
      async () =>
        (await rowsOf(both).count()) === 1 && (await rowsOf(localOnly).count()) === 1 ? true : undefined,
      { timeoutMs: 30_000 },
    );
    for (const row of [rowsOf(both).first(), rowsOf(localOnly).first()]) {
      const { text, fits } = await labelFits(row);
      assert.ok(fits, `"${text}" is cut at the default side-bar width`);
      assert.match((await row.locator('.label-description').innerText()).trim(), /^\d\d-\d\d \d\d:\d\d UTC$/);
    }
    await wb().page.mouse.move(0, 0);
    await wb().shot('tree-narrow-sidebar');
    const tooltip = await hoverText(wb(), rowsOf(both).first(), 'Started ');
    assert.match(tooltip, /Started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  });

  it('the Infrakt log (default level): a readable line per action and result, the warning row’s cause, no protocol lines', async () => {
    const read = () =>
      infraktLogFiles(wb().server.userDataDir)
        .map((f) => fs.readFileSync(f, 'utf8'))
        .join('\n');
    const text = await waitFor(
      'the backup lines in the Infrakt log',
      () => {
        const t = read();
        return /Retention of shop: deleted /.test(t) ? t : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.match(text, /\[sandbox\] S3 copies not listed: the S3 secret key is not stored on this computer/);
    assert.match(text, /S3 connection from sandbox works/);
    assert.match(text, /\[sandbox\] Backing up shop on sandbox/);
    assert.match(text, /Backup of shop on sandbox saved: sandbox_shop_postgres_\S+ \(/);
    assert.doesNotMatch(text, /@@infrakt:/, 'the scripts’ protocol lines are at trace level');
    assert.doesNotMatch(text, /"Key":|\{"file":/, 'no awscli or result JSON');
  });
});
