// With an empty store the Servers view shows its welcome content; each of its
// three buttons does what it says.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireContributed } from '../manifest';
import { useWorkbench } from '../workbench';

const BUTTONS = ['Add Server', 'Import from SSH Config', 'Configure S3 Storage'];

// A hermetic ~/.ssh/config for "Import from SSH Config" (code-server runs with its own HOME).
const SSH_CONFIG = `Host e2e-web
  HostName 127.0.0.1
  User deploy
  Port 2222

Host e2e-db
  HostName db.e2e.example
  User root
`;

describe('Welcome view (empty store)', function () {
  this.timeout(60_000);
  const wb = useWorkbench('welcome', {
    prepare: ({ home }) => {
      fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(home, '.ssh', 'config'), SSH_CONFIG, { mode: 0o600 });
    },
  });

  it('opening the Infrakt container shows the Servers view with the welcome text and three buttons', async () => {
    await wb().openInfrakt();
    assert.match((await wb().sideBarTitle().innerText()).trim(), /^infrakt: servers$/i);
    await wb().welcome().getByText('No servers yet.', { exact: false }).waitFor({ state: 'visible' });
    for (const name of BUTTONS) {
      await wb().welcomeButton(name).waitFor({ state: 'visible', timeout: 10_000 });
    }
    assert.deepEqual(
      (await wb().welcome().getByRole('button').allInnerTexts()).map((t) => t.trim()),
      BUTTONS,
    );
    assert.equal(await wb().treeRows().count(), 0, 'an empty store shows no tree rows');
    await wb().shot('welcome-view');
  });

  it('"Add Server" opens the input box "Add Server (1/6)"', async () => {
    await wb().welcomeButton('Add Server').click();
    await wb().waitForQuickInput('Add Server (1/6)');
    await wb().shot('welcome-add-server');
    await wb().dismissQuickInput();
  });

  it('"Import from SSH Config" offers the hosts of ~/.ssh/config in a quick pick', async function () {
    requireContributed(this, 'infrakt.server.importSshConfig');
    await wb().welcomeButton('Import from SSH Config').click();
    await wb().quickInput().waitFor({ state: 'visible', timeout: 30_000 });
    for (const host of ['e2e-web', 'e2e-db']) {
      await wb().quickInputRows().filter({ hasText: host }).first().waitFor({ state: 'visible' });
    }
    const web = (await wb().quickInputRows().filter({ hasText: 'e2e-web' }).first().innerText()).replace(
      /\s+/g,
      ' ',
    );
    assert.match(web, /deploy@127\.0\.0\.1:2222/);
    await wb().shot('welcome-import-ssh-config');
    await wb().dismissQuickInput();
  });

  it('Import connects to each chosen host before saving it: one that cannot be reached is named, and Cancel adds nothing', async function () {
    this.timeout(150_000);
    await wb().welcomeButton('Import from SSH Config').click();
    await wb().quickInputRows().filter({ hasText: 'e2e-web' }).first().waitFor({ state: 'visible' });
    await wb().quickInput().locator('.quick-input-box input').press('Enter'); // both hosts are picked
    for (const [name, where] of [
      ['e2e-web', 'deploy@127.0.0.1:2222'],
      ['e2e-db', 'root@db.e2e.example:22'],
    ]) {
      const dialog = wb()
        .dialog()
        .filter({ hasText: `Could not connect to "${name}" (${where}).` });
      await dialog.waitFor({ state: 'visible', timeout: 60_000 });
      const buttons = (await dialog.getByRole('button').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
      assert.deepEqual(buttons.sort(), ['Cancel', 'Edit', 'Save Anyway']);
      await wb().shot(`welcome-import-check-${name}`);
      await wb().answerDialog('Cancel');
    }
    await wb().welcomeButton('Import from SSH Config').waitFor({ state: 'visible' });
    assert.equal(await wb().treeRows().count(), 0, 'nothing imported');
  });

  it('"Configure S3 Storage" opens the S3 settings page ("S3 Backup Storage") in an editor', async function () {
    requireContributed(this, 'infrakt.settings.openS3');
    assert.equal(await wb().activeEditorTab().count(), 0, 'no editor is open before the click');
    await wb().welcomeButton('Configure S3 Storage').click();
    await wb().activeEditorTab().waitFor({ state: 'visible', timeout: 30_000 });
    const frame = await wb().webviewFrame('S3 Backup Storage');
    await frame.locator('h1').filter({ hasText: 'S3 Backup Storage' }).waitFor({ state: 'visible' });
    await frame.getByRole('button', { name: 'Save', exact: true }).waitFor({ state: 'visible' });
    const tab = (await wb().activeEditorTab().innerText()).trim();
    console.log(`      editor tab: "${tab}"`);
    assert.match(tab, /S3/);
    await wb().shot('welcome-configure-s3');
    await wb().closeAllEditors();
    await wb().activeEditorTab().waitFor({ state: 'detached' });
  });
});
