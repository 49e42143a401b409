// The whole product on the sandbox world (real sshd, s3rver, PostgreSQL on
// 127.0.0.1), driven like a person would: S3 settings on the settings page,
// Add Server from the palette with a key file (accepting the host key), Add
// Database from the row's menu, Back Up Now → a backup row with the
// "S3 + Local" badge, change the data, Restore from the row's menu → the data
// is back (checked in PostgreSQL), Delete; Schedule Backups → the installed
// script, run as cron runs it, shows "ok" on the row; Remove Schedule. The
// tree screenshots are also kept as README pictures (readmeShotPath).
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame, Locator } from 'playwright-core';
import { type SandboxWorld, startSandboxWorld } from '../../world/sandbox';
import { freePort, infraktLogFiles } from '../codeServer';
import { useWorkbench } from '../workbench';
import { onTeardown, readmeShotPath, waitFor } from '../world';

describe('Backups end to end on the sandbox world (sshd + s3rver + PostgreSQL)', function () {
  this.timeout(120_000);
  let w: SandboxWorld;
  let original = '';
  /** A canary S3 secret the schedule step saves on the page (s3rver checks only the access key). */
  const rotated = `canary-rotated-secret-${Date.now()}`;
  const wb = useWorkbench('backup-flow');
  const items = () =>
    w.postgres.sql(
      "SELECT count(*), md5(string_agg(name || price || stock, ',' ORDER BY id)) FROM products",
      'shop',
    );

  before(async function () {
    this.timeout(180_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-e2e-world-'));
    fs.chmodSync(dir, 0o755); // PostgreSQL runs as its own user and must reach its data dir
    w = await startSandboxWorld({ dir, reusePorts: false });
    onTeardown('sandbox world', async () => {
      await w.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    original = items();
  });

  /** A text field of the settings page: the input inside the vscode-textfield element. */
  const field = (frame: Frame, id: string): Locator => frame.locator(`vscode-textfield#${id} input`);

  /** Waits for the input box whose prompt (or title) shows `text`, then types `value` and Enter. */
  async function answerPrompt(text: string, value?: string): Promise<void> {
    const box = wb().quickInput();
    await box.filter({ hasText: text }).waitFor({ state: 'visible', timeout: 30_000 });
    const input = box.locator('.quick-input-box input');
    if (value !== undefined) await input.fill(value);
    await input.press('Enter');
    await box.filter({ hasText: text }).waitFor({ state: 'hidden', timeout: 30_000 });
  }

  /** Drags the side bar's edge so tree rows show their whole description (for the screenshots). */
  async function widenSideBar(width: number): Promise<void> {
    const box = await wb().page.locator('.part.sidebar').boundingBox();
    if (!box || box.width >= width) return;
    const x = box.x + box.width;
    const y = box.y + box.height / 2;
    await wb().page.mouse.move(x, y);
    await wb().page.mouse.down();
    await wb().page.mouse.move(box.x + width, y, { steps: 5 });
    await wb().page.mouse.up();
  }

  it('S3 settings for the sandbox s3rver are saved on the settings page', async () => {
    await wb().openInfrakt();
    await wb().runCommand('Infrakt: Open S3 Settings');
    const frame = await wb().webviewFrame('S3 Backup Storage');
    await field(frame, 'endpointUrl').fill(w.s3.endpointUrl);
    await field(frame, 'bucket').fill(w.s3.bucket);
    await field(frame, 'region').fill(w.s3.region);
    await field(frame, 'accessKey').fill(w.s3.accessKey);
    await field(frame, 'secretKey').fill(w.s3.secretKey);
    // s3rver serves buckets by path, as MinIO does.
    const pathStyle = frame.locator('vscode-checkbox#pathStyle');
    // Keyboard, as the page promises: focus the checkbox and press Space.
    await pathStyle.focus();
    await wb().page.keyboard.press('Space');
    assert.equal(await pathStyle.evaluate((e) => (e as unknown as { checked: boolean }).checked), true);
    await wb().shot('flow-s3-settings-filled');
    await frame.getByRole('button', { name: 'Save', exact: true }).click();
    await wb().waitForToast('S3 configuration saved');
    await frame
      .locator('vscode-badge.s3-state', { hasText: 'Saved — not tested' })
      .waitFor({ state: 'visible' });
    assert.equal(
      await pathStyle.evaluate((e) => (e as unknown as { checked: boolean }).checked),
      true,
      'saved path-style',
    );
    await wb().closeAllEditors();
  });

  it('Add Server from the palette with a key file; the host key is asked for once', async () => {
    await wb().runCommand('Infrakt: Add Server');
    await wb().answer('Add Server (1/6)', 'sandbox');
    await wb().answer('Add Server (2/6)', w.ssh.host);
    await wb().answer('Add Server (3/6)', String(w.ssh.port));
    await wb().answer('Add Server (4/6)', w.user);
    await wb().pick('Add Server (5/6)', 'Private key file');
    // VS Code's own file dialog (code-server: the quick-input one): type the path, Enter.
    await wb().waitForQuickInput('Add Server: choose the private key');
    const input = wb().quickInput().locator('.quick-input-box input');
    // The dialog fills in its start folder and lists it asynchronously (busy
    // while it does): type only when it is idle, and check what it shows.
    const idle = async () =>
      (await wb().quickInput().locator('.monaco-progress-container.active').count()) === 0;
    await waitFor('the file dialog to list its start folder', async () =>
      (await input.inputValue()).endsWith('/') && (await wb().quickInputRows().count()) > 0 && (await idle())
        ? true
        : undefined,
    );
    await input.fill(w.ssh.keyPath);
    // It then lists the typed path's folder; Enter picks the file once its row is there.
    await wb()
      .quickInputRows()
      .filter({ hasText: path.basename(w.ssh.keyPath) })
      .first()
      .waitFor();
    await waitFor('the file dialog to settle on the key path', async () =>
      (await idle()) ? true : undefined,
    );
    assert.equal(await input.inputValue(), w.ssh.keyPath);
    await wb().shot('flow-add-server-key-file');
    await input.press('Enter');
    await wb().answer('Add Server (6/6)', w.backupDir);
    // Add Server connects before it saves: the first connection shows the fingerprint.
    const dialog = wb().dialog();
    await dialog.waitFor({ state: 'visible', timeout: 30_000 });
    const text = await dialog.innerText();
    assert.match(text, /First connection to 127\.0\.0\.1:\d+\. Trust this host\?/);
    assert.ok(
      text.includes(w.ssh.hostKeyFingerprint),
      `fingerprint ${w.ssh.hostKeyFingerprint} in:\n${text}`,
    );
    assert.equal(await wb().treeRow('sandbox').count(), 0, 'not saved before the check');
    await wb().shot('flow-trust-host-key');
    await dialog.getByRole('button', { name: 'Trust and Connect', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    // What Test Connection's probe found, said as the server is added.
    const toast = await wb().waitForToast(/Server "sandbox" added — sandbox: .*, user root \(root\)/);
    assert.match(
      (await toast.innerText()).replace(/\s+/g, ' '),
      new RegExp(`${w.backupDir} (writable|creatable)`),
    );
    await wb().treeRow('sandbox').waitFor({ state: 'visible' });
    await wb().shot('flow-server-added-probe');
  });

  it('Add Database checks the database before saving: a wrong port is named (Edit), the right one answers', async () => {
    await wb().contextMenu(wb().treeRow('sandbox'), 'Add Database');
    await wb().pick('Add Database to sandbox', 'PostgreSQL');
    await wb().pick('Add Database to sandbox', 'Installed on the server');
    await answerPrompt('Name (used in backup file names)', 'shop');
    await answerPrompt('Database host, as seen from the server', '127.0.0.1');
    await answerPrompt('Database port', String(await freePort()));
    await answerPrompt('Database user', w.postgres.user);
    await answerPrompt('Database name on the server', 'shop');
    await answerPrompt('Password (leave blank', '');

    const dialog = wb().dialog();
    await dialog.waitFor({ state: 'visible', timeout: 60_000 });
    const text = (await dialog.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /shop on sandbox did not pass its check/);
    assert.match(text, /shop on sandbox did not answer: .*(refused|could not connect)/i);
    const buttons = (await dialog.getByRole('button').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    assert.deepEqual(buttons.sort(), ['Cancel', 'Edit', 'Save Anyway']);
    assert.equal(await wb().treeRow('shop').count(), 0, 'not saved before the check');
    await wb().shot('flow-add-database-check-failed');
    await wb().answerDialog('Edit');

    // Edit asks again with the answers given, the port corrected.
    await answerPrompt('Name (used in backup file names)');
    await answerPrompt('Database host, as seen from the server');
    await answerPrompt('Database port', String(w.postgres.port));
    await answerPrompt('Database user');
    await answerPrompt('Database name on the server');
    await answerPrompt('Password (leave blank', '');
    await wb().waitForToast(
      /Added PostgreSQL database shop .* on sandbox: pg_dump found, and the database answered/,
    );
    await wb().treeRow('sandbox').click();
    const db = wb().treeRow('shop');
    await db.locator('.label-description', { hasText: 'no backups' }).waitFor({ timeout: 30_000 });
    assert.equal(await wb().dialog().count(), 0, 'the host key was trusted once, at Add Server');
  });

  it('Test Connection on the settings page runs put, head, get, list, delete from the server', async () => {
    await wb().runCommand('Infrakt: Open S3 Settings');
    const frame = await wb().webviewFrame('S3 Backup Storage');
    await frame.getByRole('button', { name: 'Test Connection', exact: true }).click();
    const steps = frame.locator('.test-steps li');
    await steps.nth(4).waitFor({ state: 'visible', timeout: 60_000 });
    assert.deepEqual(
      (await steps.allInnerTexts()).map((t) => t.split(' — ')[0]),
      ['✓ put', '✓ head', '✓ get', '✓ list', '✓ delete'],
    );
    await frame.getByText('S3 connection from sandbox works', { exact: false }).first().waitFor();
    await frame
      .locator('vscode-badge.s3-state', { hasText: /^Tested OK at \d\d:\d\d from sandbox$/ })
      .waitFor({ state: 'visible' });
    assert.equal(
      await frame
        .locator('vscode-checkbox#pathStyle')
        .evaluate((e) => (e as unknown as { checked: boolean }).checked),
      true,
      'path-style shown as stored after reopening',
    );
    await steps.nth(4).scrollIntoViewIfNeeded();
    await wb().shot('flow-s3-test-connection');
    await wb().page.screenshot({ path: readmeShotPath('s3-settings-tested.png') });
    await wb().closeAllEditors();
  });

  it('Back Up Now → a backup row with the "S3 + Local" badge', async () => {
    await wb().contextMenu(wb().treeRow('shop'), 'Back Up Now');
    const toast = await wb().waitForToast(/Backup of shop on sandbox saved: .*and uploaded to S3/);
    const message = (await toast.innerText()).replace(/\s+/g, ' ');
    const file = /saved: (\S+) \(/.exec(message)?.[1] ?? '';
    assert.match(file, /^sandbox_shop_postgres_\d{8}T\d{6}Z\.dump\.(zst|gz)$/);
    assert.ok(fs.existsSync(path.join(w.backupDir, file)), `${file} in ${w.backupDir}`);
    await wb().treeRow('shop').click();
    const row = wb().treeRows().filter({ hasText: 'S3 + Local' }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    await widenSideBar(520);
    await wb().shot('flow-backup-row');
  });

  it('Verify Backup from the row’s menu: restored into a scratch database on the server; the backup row and the database row say "verified"', async () => {
    const row = wb().treeRows().filter({ hasText: 'S3 + Local' }).first();
    await wb().contextMenu(row, 'Verify Backup');
    const toast = await wb().waitForToast(
      /Verified sandbox_shop_postgres_.*: restored into a scratch copy on sandbox/,
    );
    const message = (await toast.innerText()).replace(/\s+/g, ' ');
    // The counts of the live database, which the backup recorded beside it.
    const tables = Number(
      w.postgres.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        'shop',
      ),
    );
    const products = Number(w.postgres.sql('SELECT count(*) FROM products', 'shop'));
    assert.ok(tables >= 1 && products >= 1, 'the sandbox shop has data');
    assert.match(message, new RegExp(`— ${tables} tables?, [\\d.]+(?: [kMG])? rows?, as at backup time`));
    assert.equal(
      w.postgres.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'infrakt_verify_%'", 'shop').trim(),
      '0',
      'the scratch database is gone',
    );
    await row
      .filter({ hasText: /verified (just now|1 min ago) · \d+ tables?/ })
      .waitFor({ state: 'visible', timeout: 30_000 });
    await wb().treeRow('shop').filter({ hasText: `verified` }).waitFor({ state: 'visible' });
    await wb().shot('flow-verified');
  });

  it('Restore from the row’s menu after changing the data → the data is back in PostgreSQL', async () => {
    w.postgres.sql('UPDATE products SET stock = 0; DELETE FROM products WHERE id % 2 = 0', 'shop');
    assert.notEqual(items(), original);
    const row = wb().treeRows().filter({ hasText: 'S3 + Local' }).first();
    await wb().contextMenu(row, 'Restore Backup');
    const dialog = wb().dialog();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.innerText(), /Restore shop on sandbox\?/);
    await wb().shot('flow-restore-dialog');
    await dialog.getByRole('button', { name: 'Restore (safety backup first)', exact: true }).click();
    await wb().waitForToast(/Restored shop on sandbox from .*Safety backup of the previous data/);
    assert.equal(items(), original);
    // The safety backup joins the list (local only: it was not uploaded).
    await wb()
      .treeRows()
      .filter({ hasText: /^.*Local · / })
      .filter({ hasNotText: 'S3 + Local' })
      .first()
      .waitFor();
    await wb().shot('flow-restored');
    await wb().page.screenshot({ path: readmeShotPath('tree-backups.png') });
  });

  it('Restore to This Computer from the row’s menu: downloaded over SFTP, its sha256 checked, restored with this computer’s pg_restore into a database here', async () => {
    // "This computer" and the sandbox server are one machine here: a second database of the same PostgreSQL stands for the one at hand.
    w.postgres.sql('CREATE DATABASE shop_here');
    const here = () =>
      w.postgres.sql(
        "SELECT count(*), md5(string_agg(name || price || stock, ',' ORDER BY id)) FROM products",
        'shop_here',
      );
    const temps = () => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('infrakt-local-restore-'));
    const tempsBefore = temps();
    const row = wb().treeRows().filter({ hasText: 'S3 + Local' }).first();
    await wb().contextMenu(row, 'Restore to This Computer…');
    await answerPrompt('server this computer reaches', '127.0.0.1');
    await answerPrompt('Port', String(w.postgres.port));
    await answerPrompt('User', 'postgres');
    await answerPrompt('Database to restore into', 'shop_here');
    await answerPrompt('used for this restore only, never stored', '');
    const dialog = wb().dialog();
    await dialog.waitFor({ state: 'visible' });
    const text = (await dialog.innerText()).replace(/\s+/g, ' ');
    assert.match(
      text,
      /Restore sandbox_shop_postgres_\S+ into shop_here on 127\.0\.0\.1:\d+ \(this computer\)\?/,
    );
    assert.match(
      text,
      /downloaded from sandbox over SFTP .* checked against its sha256, then restored with pg_restore/,
    );
    await wb().shot('flow-restore-here-dialog');
    await wb().answerDialog('Restore Here');
    await wb().waitForToast(
      /Restored sandbox_shop_postgres_\S+ into shop_here on 127\.0\.0\.1:\d+ \(this computer\) \(sha256 verified\)\./,
    );
    assert.equal(here(), original, 'the backup’s data is in the database here');
    assert.deepEqual(temps(), tempsBefore, 'the downloaded copy is removed');
  });

  it('Delete Backup removes the file and its checksum from the server (after a modal)', async () => {
    const before = fs.readdirSync(w.backupDir).filter((f) => f.endsWith('.sha256')).length;
    assert.ok(before >= 2, 'the backup and the safety backup');
    // The safety backup is local only (not uploaded): delete that one.
    const row = wb().treeRows().filter({ hasText: 'Local · ' }).filter({ hasNotText: 'S3 + Local' }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    await wb().contextMenu(row, 'Delete Backup');
    const dialog = wb().dialog();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.innerText(), /There is no other copy/);
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await wb().waitForToast(/Deleted sandbox_shop_postgres_.* from sandbox/);
    assert.equal(fs.readdirSync(w.backupDir).filter((f) => f.endsWith('.sha256')).length, before - 1);
    await wb().serversView().locator('.codicon-file-zip').first().waitFor({ state: 'detached' });
    await wb().shot('flow-deleted');
  });

  it('Restore of an S3-only backup: streamed from S3 into the restore, nothing kept on the server, the row stays "S3"', async () => {
    // Delete the server's copy of the uploaded backup: its row becomes "S3".
    const both = wb().treeRows().filter({ hasText: 'S3 + Local' }).first();
    await both.waitFor({ state: 'visible', timeout: 30_000 });
    await wb().contextMenu(both, 'Delete Backup');
    await wb().dialog().filter({ hasText: 'The copy in S3 stays' }).waitFor({ state: 'visible' });
    await wb().answerDialog('Delete');
    const deleted = await wb().waitForToast(/Deleted sandbox_shop_postgres_.* from sandbox/);
    const file = /Deleted (\S+) /.exec((await deleted.innerText()).replace(/\s+/g, ' '))?.[1] ?? '';
    assert.ok(file && !fs.existsSync(path.join(w.backupDir, file)), `${file} gone from the server`);
    const s3Only = () => wb().treeRows().filter({ hasText: 'S3 · ' }).filter({ hasNotText: 'S3 + Local' });
    await s3Only().first().waitFor({ state: 'visible', timeout: 30_000 });

    w.postgres.sql("UPDATE products SET stock = stock + 7, name = name || ' (changed)'", 'shop');
    assert.notEqual(items(), original);
    await wb().contextMenu(s3Only().first(), 'Restore Backup');
    const dialog = wb().dialog();
    await dialog.waitFor({ state: 'visible' });
    assert.match(
      (await dialog.innerText()).replace(/\s+/g, ' '),
      /streams it from S3 into the restore and hashes it on the way.*Nothing is kept on the server/,
    );
    await wb().shot('flow-restore-s3-dialog');
    await wb().answerDialog('Restore without safety backup');
    await wb().waitForToast(
      /Restored shop on sandbox from .*streamed from S3; nothing was kept on the server/,
    );
    assert.equal(items(), original);
    assert.ok(!fs.existsSync(path.join(w.backupDir, file)), `${file} not kept on the server`);
    assert.ok(!fs.existsSync(path.join(w.backupDir, `${file}.sha256`)), 'nor its checksum');
    await wb().runCommand('Infrakt: Refresh');
    await s3Only().first().waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(
      await wb().treeRows().filter({ hasText: 'S3 + Local' }).count(),
      0,
      'not "S3 + Local" again',
    );
    await wb().shot('flow-restored-from-s3');
  });

  it('Restore To… a new database from the row’s menu: created on the server and filled from S3, the source untouched', async () => {
    const row = wb().treeRows().filter({ hasText: 'S3 · ' }).filter({ hasNotText: 'S3 + Local' }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    const source = items();
    await wb().contextMenu(row, 'Restore To…');
    await wb().pick('Restore To…', 'A new database on sandbox');
    // A name no database takes is refused with what is wrong, as typed.
    const title = 'Restore To… a new database on sandbox';
    await wb().waitForQuickInput(title);
    const input = wb().quickInput().locator('.quick-input-box input');
    await input.fill('shop copy');
    await wb()
      .quickInput()
      .filter({ hasText: 'Database name may use letters' })
      .waitFor({ state: 'visible' });
    await wb().shot('flow-restore-to-name');
    await wb().answer(title, 'shop_copy');
    const dialog = wb().dialog();
    await dialog
      .filter({ hasText: 'into a new database shop_copy on sandbox' })
      .waitFor({ state: 'visible' });
    assert.match(
      (await dialog.innerText()).replace(/\s+/g, ' '),
      /streams it from S3 straight into the restore/,
    );
    await wb().shot('flow-restore-to-dialog');
    await wb().answerDialog('Create and Restore');
    await wb().waitForToast(/Restored .* into a new database shop_copy on sandbox/);
    const copy = w.postgres.sql(
      "SELECT count(*), md5(string_agg(name || price || stock, ',' ORDER BY id)) FROM products",
      'shop_copy',
    );
    assert.equal(copy, items(), 'the copy has the data of the backup (the same as the restored source)');
    assert.equal(items(), source, 'the source is untouched');
    await wb().shot('flow-restored-to-new-database');
  });

  /** The sshd of this world and every process under it (its sessions), for SIGSTOP/SIGCONT. */
  function sshdTree(): number[] {
    const root = Number(fs.readFileSync(path.join(w.ssh.dir, 'sshd.pid'), 'utf8').trim());
    const all = [root];
    for (let i = 0; i < all.length; i++) {
      const children = spawnSync('pgrep', ['-P', String(all[i])], { encoding: 'utf8' }).stdout ?? '';
      all.push(...children.split('\n').filter(Boolean).map(Number));
    }
    return all;
  }

  // The bug: right after a change the tree lists the server again, and until
  // that listing landed its backup rows were answered by no one — VS Code then
  // ran a row's menu item with no row, and the command asked "Choose a database".
  it('a row’s menu acts on that row while the server is being listed again (the server holds the listing)', async () => {
    const row = wb().treeRows().filter({ hasText: 'S3 · ' }).filter({ hasNotText: 'S3 + Local' }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    const held = sshdTree();
    const resume = onTeardown('the held sshd', () => {
      for (const pid of held) spawnSync('kill', ['-CONT', String(pid)]);
    });
    for (const pid of held) spawnSync('kill', ['-STOP', String(pid)]);
    try {
      await wb().runCommand('Infrakt: Refresh'); // its listing cannot finish while sshd is stopped
      await wb().contextMenu(row, 'Restore Backup');
      const dialog = wb().dialog();
      await dialog.waitFor({ state: 'visible', timeout: 15_000 });
      const text = (await dialog.innerText()).replace(/\s+/g, ' ');
      assert.match(text, /Restore shop on sandbox\?/);
      assert.match(text, /with the backup sandbox_shop_postgres_\d{8}T\d{6}Z\.dump\.(zst|gz) \(.*, S3\)/);
      assert.equal(await wb().quickInput().filter({ visible: true }).count(), 0, 'no picker');
      await wb().shot('flow-row-menu-during-listing');
      await wb().answerDialog('Cancel');
    } finally {
      await resume();
    }
    await wb()
      .treeRow('shop')
      .locator('.label-description', { hasText: '1 backup' })
      .waitFor({ timeout: 60_000 });
  });

  it('a database row’s menu chosen just as a new listing lands acts on that row (24 rounds, the renderer slowed 6×, the click swept across the landing)', async function () {
    this.timeout(300_000);
    // Each round's listing differs from the last (a backup there, then not): it redraws rows.
    const junk = path.join(w.backupDir, 'sandbox_shop_postgres_20200101T000000Z.dump.zst');
    const removeJunk = () => {
      fs.rmSync(junk, { force: true });
      fs.rmSync(`${junk}.sha256`, { force: true });
    };
    onTeardown('the extra backup of the listing rounds', removeJunk);
    const refresh = wb().page.locator('.part.sidebar').getByRole('button', { name: 'Refresh', exact: true });
    const shows = (text: string) =>
      wb()
        .quickInputTitle()
        .filter({ hasText: text })
        .waitFor({ state: 'visible', timeout: 15_000 })
        .then(() => text)
        .catch(() => undefined);
    const refused = () =>
      wb()
        .toasts()
        .filter({ hasText: 'The tree was reloading' })
        .first()
        .waitFor({ state: 'visible', timeout: 15_000 })
        .then(() => 'refused: the tree was reloading')
        .catch(() => undefined);
    // A slow machine (CI's): the renderer at a sixth of its speed, so each round trip between it and the extension host is longer.
    const cdp = await wb().page.context().newCDPSession(wb().page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 6 });
    const fullSpeed = onTeardown('the renderer at full speed', async () => {
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 }).catch(() => {});
      await cdp.detach().catch(() => {});
    });
    for (let round = 0; round < 24; round++) {
      if (round % 2 === 0) {
        fs.writeFileSync(junk, `round ${round}`);
        fs.writeFileSync(`${junk}.sha256`, `${'0'.repeat(64)}  ${path.basename(junk)}\n`);
      } else removeJunk();
      await refresh.click();
      const delay = (round % 12) * 80;
      await new Promise((resolve) => setTimeout(resolve, delay));
      await wb().contextMenu(wb().treeRow('shop'), 'Set Retention…');
      const outcome = await Promise.race([shows('Set Retention of shop'), refused()]);
      assert.equal(outcome, 'Set Retention of shop', `round ${round}, chosen ${delay} ms after Refresh`);
      await wb().dismissQuickInput();
    }
    await fullSpeed();
    removeJunk();
    await refresh.click();
    await wb()
      .treeRow('shop')
      .locator('.label-description', { hasText: '1 backup' })
      .waitFor({ timeout: 60_000 });
  });

  /** Root's crontab lines that run a script in this world's backup dir. */
  const cronLines = () =>
    (spawnSync('crontab', ['-l'], { encoding: 'utf8' }).stdout ?? '')
      .split('\n')
      .filter((l) => l.includes(`${w.backupDir}/backup-`));

  /** Runs a file as cron does (bare environment, cron's PATH); its exit code and output. */
  const runScript = (file: string) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn('env', ['-i', 'PATH=/usr/bin:/bin', 'HOME=/root', 'LOGNAME=root', file], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });

  it('Schedule Backups → the row shows the schedule; a run of the installed script shows "ok"; Remove Schedule', async function () {
    // One scheduled run makes several awscli calls (upload, checksum, S3 retention): allow for a slow machine.
    this.timeout(300_000);
    onTeardown('crontab lines of the sandbox schedule', () => {
      const tab = spawnSync('crontab', ['-l'], { encoding: 'utf8' }).stdout ?? '';
      if (!tab.includes(`${w.backupDir}/backup-`)) return;
      const kept = tab.split('\n').filter((l) => !l.includes(`${w.backupDir}/backup-`));
      spawnSync('crontab', ['-'], { input: kept.join('\n') });
    });
    await wb().contextMenu(wb().treeRow('shop'), 'Schedule Backups…');
    await wb().pick('Schedule Backups (1/3): when', 'Daily at 02:00');
    await wb().pick('Schedule Backups (2/3): retention', 'Custom rules');
    await wb().answer('Schedule Backups (2/3): retention on the server', 'within 14 days');
    // The editor previews what the typed rules keep, before anything is saved.
    await wb().waitForQuickInput('Schedule Backups (2/3): retention in S3');
    const rules = wb().quickInput().locator('.quick-input-box input');
    await rules.fill('daily 7, weekly');
    await wb()
      .quickInputRows()
      .filter({ hasText: '"weekly" needs a number, e.g. weekly 4' })
      .first()
      .waitFor();
    await rules.fill('last 5, daily 7, monthly 12');
    await wb().quickInputRows().filter({ hasText: 'Use: last 5, daily 7, monthly 12' }).first().waitFor();
    const kept = wb()
      .quickInputRows()
      .filter({ hasText: /kept: last 5, daily \d{4}-\d\d-\d\d, monthly \d{4}-\d\d, newest verified/ });
    await kept.first().waitFor();
    await wb().page.screenshot({ path: readmeShotPath('retention-editor.png') });
    await rules.press('Enter');
    // The verification restore after every run: the scheduled run restores its backup into a scratch database.
    await wb().pick('Schedule Backups (3/3): verification', 'After every backup');
    // Info, or a warning when this machine runs no cron daemon: both say what was installed.
    await wb().waitForToast(/shop on sandbox is backed up daily 02:00, uploaded to S3/);
    const script = path.join(w.backupDir, 'backup-shop.sh');
    assert.equal(fs.statSync(script).mode & 0o777, 0o700);
    assert.deepEqual(
      cronLines().map((l) => l.split(' # ')[0]),
      [`0 2 * * * ${script} >> ${w.backupDir}/.status/shop.log 2>&1`],
    );
    const text = fs.readFileSync(script, 'utf8');
    assert.ok(!text.includes(w.s3.secretKey) && !text.includes(w.s3.accessKey), 'no S3 key in the script');
    const description = () => wb().treeRow('shop').locator('.label-description');
    await description().filter({ hasText: 'daily 02:00 · not run yet' }).waitFor({ timeout: 30_000 });

    // What cron would do at 02:00: run it with a bare environment (not blocking
    // the event loop: the browser connection must stay served meanwhile).
    const run = await runScript(script);
    const statusFile = path.join(w.backupDir, '.status', 'shop.json');
    const record = fs.existsSync(statusFile) ? fs.readFileSync(statusFile, 'utf8') : '(no status record)';
    assert.equal(run.code, 0, `${run.output}\n${record}`);
    assert.equal((JSON.parse(record) as { uploaded?: boolean }).uploaded, true, record);
    assert.equal((JSON.parse(record) as { verified?: boolean }).verified, true, record);
    await wb().runCommand('Infrakt: Refresh');
    await description().filter({ hasText: 'daily 02:00 · ok just now' }).waitFor({ timeout: 30_000 });
    const problems = wb().page.locator('.statusbar-item', { hasText: /backup schedules? failing/ });
    assert.equal(await problems.count(), 0, 'no status-bar count while every schedule is ok');

    // An S3 outage at 02:00: the run fails, and the status bar counts it without expanding anything.
    await w.s3.stop();
    const restartS3 = onTeardown('s3rver after the outage', () => w.s3.restart());
    const failedRun = await runScript(script);
    await restartS3();
    assert.notEqual(failedRun.code, 0, failedRun.output);
    await wb().runCommand('Infrakt: Refresh');
    await description().filter({ hasText: 'daily 02:00 · failed' }).waitFor({ timeout: 30_000 });
    await problems.filter({ hasText: '1 backup schedule failing' }).waitFor({ timeout: 30_000 });
    await wb().shot('flow-schedule-failed-status-bar');
    const again = await runScript(script);
    assert.equal(again.code, 0, again.output);
    await wb().runCommand('Infrakt: Refresh');
    await description().filter({ hasText: 'daily 02:00 · ok just now' }).waitFor({ timeout: 30_000 });
    await problems.waitFor({ state: 'detached', timeout: 30_000 });

    // Saving new S3 settings rewrites the credentials file the scheduled script reads.
    await wb().runCommand('Infrakt: Open S3 Settings');
    const frame = await wb().webviewFrame('S3 Backup Storage');
    await field(frame, 'secretKey').fill(rotated);
    await frame.getByRole('button', { name: 'Save', exact: true }).click();
    await wb().waitForToast(
      /Scheduled backups (on sandbox now upload with the new S3 settings|updated, but)/,
    );
    const credentials = '/opt/infrakt/.aws/credentials';
    assert.ok(fs.readFileSync(credentials, 'utf8').includes(rotated), 'the new secret is in the file');
    assert.equal(fs.statSync(credentials).mode & 0o777, 0o600);
    await wb().closeAllEditors();

    await widenSideBar(620);
    await wb().treeRow('shop').hover();
    await wb()
      .page.locator('.workbench-hover, .monaco-hover')
      .filter({ hasText: 'Schedule: daily 02:00' })
      .filter({ hasText: 'Verification restore: after every backup' })
      .first()
      .waitFor({ state: 'visible', timeout: 15_000 });
    await wb().shot('flow-scheduled');
    await wb().page.screenshot({ path: readmeShotPath('tree-schedule.png') });

    await wb().contextMenu(wb().treeRow('shop'), 'Remove Schedule');
    await wb().answerDialog('Remove Schedule');
    await wb().waitForToast('Scheduled backups of shop on sandbox removed');
    assert.deepEqual(cronLines(), []);
    assert.ok(!fs.existsSync(script));
    assert.ok(!fs.existsSync(credentials), "the server's last schedule took the credentials file with it");
    await description()
      .filter({ hasNotText: 'daily' })
      .filter({ hasText: 'backups' })
      .waitFor({ timeout: 30_000 });
  });

  /** The recovery key exported by the encryption step (a canary for the last check). */
  let identity = '';

  it('Set Up Backup Encryption: a key made here and exported (0600); Back Up Now encrypts (a lock on the row); Restore decrypts on the server', async function () {
    this.timeout(240_000);
    await wb().runCommand('Infrakt: Set Up Backup Encryption…');
    await wb().pick('Set Up Backup Encryption', 'Make a new key on this computer');
    await wb().dialog().filter({ hasText: 'Without the recovery key' }).waitFor({ state: 'visible' });
    await wb().answerDialog('Make Key');
    await wb().dialog().filter({ hasText: 'Export the recovery key' }).waitFor({ state: 'visible' });
    await wb().answerDialog('Choose File…');
    // VS Code's own save dialog (code-server: the quick-input one): the whole path, Enter.
    await wb().waitForQuickInput('Export Recovery Key');
    const input = wb().quickInput().locator('.quick-input-box input');
    const idle = async () =>
      (await wb().quickInput().locator('.monaco-progress-container.active').count()) === 0;
    await waitFor('the save dialog to list its start folder', async () =>
      (await input.inputValue()).includes('/') && (await idle()) ? true : undefined,
    );
    const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-e2e-key-')), 'recovery.txt');
    onTeardown('the exported recovery key', () =>
      fs.rmSync(path.dirname(keyFile), { recursive: true, force: true }),
    );
    // The dialog accepts a path only once it lists the file's folder: an Enter before
    // that merely opens the folder. So the folder first (its only row is ".."), then
    // the whole path (no row active: the name is new), then Enter.
    const rows = wb().quickInput().locator('.monaco-list-row');
    await input.fill(`${path.dirname(keyFile)}/`);
    let listed: string[] = [];
    let value = '';
    await waitFor('the save dialog to list the key’s (empty) folder', async () => {
      listed = (await rows.allInnerTexts()).map((t) => t.trim());
      value = await input.inputValue();
      return listed.length === 1 && listed[0] === '..' && (await idle()) ? true : undefined;
    }).catch((e: Error) => {
      throw new Error(`${e.message}; it lists ${JSON.stringify(listed)}, its value ${JSON.stringify(value)}`);
    });
    await input.fill(keyFile);
    await waitFor('the save dialog to take the file name (no row active)', async () =>
      (await wb().quickInput().locator('.monaco-list-row.focused').count()) === 0 &&
      (await input.inputValue()) === keyFile
        ? true
        : undefined,
    );
    await input.press('Enter');
    await wb().quickInput().waitFor({ state: 'hidden', timeout: 15_000 });
    await wb().waitForToast(`Recovery key saved to ${keyFile} (readable only by you)`);
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    const exported = fs.readFileSync(keyFile, 'utf8');
    identity = /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/m.exec(exported)?.[0] ?? '';
    const recipient = /^# public key: (age1\S+)$/m.exec(exported)?.[1] ?? '';
    assert.ok(identity && recipient, exported.replace(/AGE-SECRET-KEY-1\S+/, 'AGE-SECRET-KEY-1…'));

    await wb().contextMenu(wb().treeRow('shop'), 'Back Up Now');
    const toast = await wb().waitForToast(/Backup of shop on sandbox saved: .*\.age .*and uploaded to S3/);
    const file = /saved: (\S+) \(/.exec((await toast.innerText()).replace(/\s+/g, ' '))?.[1] ?? '';
    assert.match(file, /^sandbox_shop_postgres_\d{8}T\d{6}Z\.dump\.(zst|gz)\.age$/);
    assert.equal(
      fs.readFileSync(path.join(w.backupDir, file)).subarray(0, 21).toString(),
      'age-encryption.org/v1',
    );
    assert.ok(
      fs
        .readFileSync(path.join(w.backupDir, `${file}.sha256`), 'utf8')
        .includes(`# age recipient: ${recipient}`),
    );
    const locked = wb()
      .serversView()
      .locator('.monaco-list-row', { has: wb().page.locator('.codicon-lock') });
    await locked.filter({ hasText: 'S3 + Local' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await wb().shot('flow-encrypted-backup-row');

    w.postgres.sql("UPDATE products SET name = 'encrypted-flow'", 'shop');
    assert.notEqual(items(), original);
    await wb().contextMenu(locked.filter({ hasText: 'S3 + Local' }).first(), 'Restore Backup');
    await wb().dialog().filter({ hasText: file }).waitFor({ state: 'visible' });
    await wb().answerDialog('Restore without safety backup');
    await wb().waitForToast(`Restored shop on sandbox from ${file}.`);
    assert.equal(items(), original, 'decrypted on the server and restored');
    const onServer = spawnSync('grep', ['-rlF', '--', identity, w.backupDir, '/opt/infrakt'], {
      encoding: 'utf8',
    }).stdout.trim();
    assert.equal(onServer, '', 'the identity is on no file of the server');

    // Off again: new backups are plain, the key stays for the encrypted ones.
    await wb().runCommand('Infrakt: Set Up Backup Encryption…');
    await wb().pick('Set Up Backup Encryption', 'Turn encryption off');
    await wb().waitForToast('Backup encryption is off for new backups');
  });

  it('the canary S3 secret saved on the page and the recovery key are in no file of the profile: not the SQLite store, not the Infrakt log, not VS Code state', () => {
    const userData = wb().server.userDataDir;
    const logs = infraktLogFiles(userData);
    assert.ok(
      logs.length > 0 && fs.statSync(logs[0]).size > 0,
      'the Infrakt log was written (and is read here)',
    );
    const store = path.join(userData, 'User', 'globalStorage', 'infrakt.infrakt', 'infrakt.sqlite');
    assert.ok(fs.existsSync(store), store);
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const f = path.join(dir, e.name);
        if (e.isDirectory()) walk(f);
        else if (e.isFile()) files.push(f);
      }
    };
    walk(userData);
    assert.ok(files.includes(store) && logs.every((l) => files.includes(l)));
    assert.ok(identity, 'the encryption step exported a recovery key');
    const leaks = files.filter((f) => {
      const text = fs.readFileSync(f).toString('latin1');
      return text.includes(rotated) || text.includes(identity);
    });
    assert.deepEqual(leaks, [], `secret found in ${leaks.join(', ')}`);
  });
});
