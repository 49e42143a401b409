// A password typed in Add Server goes to SecretStorage (encrypted in the
// browser's storage in code-server) and survives a reload: Edit Server then
// offers to keep the stored one — without ever showing it.
import * as assert from 'node:assert/strict';
import { freePort } from '../codeServer';
import { useWorkbench } from '../workbench';

describe('Server password in SecretStorage', function () {
  this.timeout(90_000);
  const wb = useWorkbench('secret-storage');

  it('a password given in Add Server is found again by Edit Server after a reload', async () => {
    await wb().openInfrakt();
    await wb().runCommand('Infrakt: Add Server');
    await wb().answer('Add Server (1/6)', 'e2e-pw');
    await wb().answer('Add Server (2/6)', '127.0.0.1');
    await wb().answer('Add Server (3/6)', String(await freePort()));
    await wb().accept('Add Server (4/6)');
    await wb().pick('Add Server (5/6)', 'Password');
    await wb().waitForQuickInput('Add Server: password');
    const password = wb().quickInput().locator('.quick-input-box input');
    assert.equal(await password.getAttribute('type'), 'password', 'the password is typed into a masked box');
    await wb().answer('Add Server: password', 'e2e-s3cret');
    await wb().accept('Add Server (6/6)');
    // Nothing listens on that port: the check says the connection was refused; keep the server anyway.
    await wb()
      .dialog()
      .filter({ hasText: 'Connection refused' })
      .waitFor({ state: 'visible', timeout: 60_000 });
    await wb().answerDialog('Save Anyway');
    await wb().treeRow('e2e-pw').waitFor({ state: 'visible' });

    await wb().load(); // a new window session: a fresh extension host, same browser storage
    await wb().openInfrakt();
    const row = wb().treeRow('e2e-pw');
    await row.waitFor({ state: 'visible' });
    await wb().contextMenu(row, 'Edit Server');
    for (const step of [1, 2, 3, 4]) await wb().accept(`Edit Server e2e-pw (${step}/6)`);
    await wb().pick('Edit Server e2e-pw (5/6)', 'Password');
    await wb().waitForQuickInput('Edit Server e2e-pw: password');
    const message = await wb().quickInput().locator('.quick-input-message').innerText();
    assert.match(message, /leave blank to keep the stored one/);
    assert.equal(await password.inputValue(), '', 'the stored password is never shown');
    await wb().shot('edit-server-stored-password');
    await wb().dismissQuickInput();
  });
});
