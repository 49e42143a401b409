// Add a server from the command palette — it cannot be reached, so the check
// says why and Save Anyway keeps it — see it in the tree, remove it from its
// context menu (modal confirmation) and get the welcome view back.
import * as assert from 'node:assert/strict';
import { useWorkbench } from '../workbench';

describe('Add Server from the palette, then Remove Server', function () {
  this.timeout(60_000);
  const wb = useWorkbench('add-server');

  it('"Infrakt: Add Server" with name, host, port, user, SSH agent and the default backup dir adds a tree row', async () => {
    await wb().openInfrakt();
    await wb().runCommand('Infrakt: Add Server');
    await wb().waitForQuickInput('Add Server (1/6)');
    await wb().shot('add-server-name');
    await wb().answer('Add Server (1/6)', 'e2e-web');
    await wb().answer('Add Server (2/6)', '127.0.0.1');
    await wb().answer('Add Server (3/6)', '2222');
    await wb().answer('Add Server (4/6)', 'deploy');
    await wb().waitForQuickInput('Add Server (5/6)');
    await wb().shot('add-server-auth');
    await wb().pick('Add Server (5/6)', 'SSH agent');
    await wb().waitForQuickInput('Add Server (6/6)');
    await wb().shot('add-server-backup-dir');
    assert.equal(await wb().accept('Add Server (6/6)'), '/opt/infrakt/backups');

    // Add Server connects before it saves; nothing answers there, so it says why and offers Save Anyway.
    const dialog = wb().dialog();
    await dialog.waitFor({ state: 'visible', timeout: 60_000 });
    const text = (await dialog.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /Could not connect to "e2e-web" \(deploy@127\.0\.0\.1:2222\)\./);
    assert.match(text, /ssh-agent|refused|Timed out/, text);
    const buttons = (await dialog.getByRole('button').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    assert.deepEqual(buttons.sort(), ['Cancel', 'Edit', 'Save Anyway']);
    assert.equal(await wb().treeRows().count(), 0, 'nothing saved before the answer');
    await wb().shot('add-server-check-failed');
    await wb().answerDialog('Save Anyway');

    await wb().waitForToast(/Server "e2e-web" added without a working connection: /);
    const row = wb().treeRow('e2e-web');
    await row.waitFor({ state: 'visible' });
    assert.equal((await row.locator('.label-description').innerText()).trim(), 'deploy@127.0.0.1:2222');
    await wb().welcome().waitFor({ state: 'hidden' });
    await wb().shot('add-server-tree-row');
  });

  it('"Remove Server" from the row\'s context menu asks in a modal dialog, then the welcome view is back', async () => {
    const row = wb().treeRow('e2e-web');
    await row.waitFor({ state: 'visible', timeout: 5_000 });
    await wb().contextMenu(row, 'Remove Server');
    const dialog = wb().dialog();
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.innerText(), /Remove server "e2e-web"\?/);
    const buttons = (await dialog.getByRole('button').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    assert.ok(
      buttons.includes('Remove') && buttons.includes('Cancel'),
      `dialog buttons: ${buttons.join(', ')}`,
    );
    await wb().shot('remove-server-dialog');
    await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await wb().welcomeButton('Add Server').waitFor({ state: 'visible' });
    assert.equal(await wb().treeRows().count(), 0);
    await wb().shot('remove-server-welcome-back');
  });
});
