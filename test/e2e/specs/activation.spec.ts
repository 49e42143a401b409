// The extension activates lazily, when its view opens, and logs how long it took.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { infraktLogFiles } from '../codeServer';
import { useWorkbench } from '../workbench';
import { recordTiming, waitFor } from '../world';

/** VS Code's own record of why the extension was activated (remoteexthost.log). */
function activationRecords(userDataDir: string): string[] {
  const logs = path.join(userDataDir, 'logs');
  if (!fs.existsSync(logs)) return [];
  const lines: string[] = [];
  for (const session of fs.readdirSync(logs)) {
    const sessionDir = path.join(logs, session);
    if (!fs.statSync(sessionDir).isDirectory()) continue;
    for (const host of fs.readdirSync(sessionDir)) {
      const file = path.join(sessionDir, host, 'remoteexthost.log');
      if (!fs.existsSync(file)) continue;
      lines.push(
        ...fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.includes('_doActivateExtension infrakt.infrakt')),
      );
    }
  }
  return lines;
}

describe('Activation', function () {
  this.timeout(60_000);
  const wb = useWorkbench('activation');

  it('activates when the Infrakt view opens (not at startup) and logs its activation time', async () => {
    const { userDataDir } = wb().server;
    await wb().openInfrakt();
    const line = await waitFor('"infrakt activated in N ms" in the Infrakt log', () => {
      for (const file of infraktLogFiles(userDataDir)) {
        const m = /infrakt activated in (\d+) ms/.exec(fs.readFileSync(file, 'utf8'));
        if (m) return { ms: Number(m[1]), file };
      }
      return undefined;
    });
    console.log(`      activation: ${line.ms} ms (${path.relative(userDataDir, line.file)})`);
    recordTiming('extension activation (its own log line)', line.ms);

    const records = activationRecords(userDataDir);
    assert.ok(records.length > 0, 'VS Code logged no activation of infrakt.infrakt');
    for (const r of records) assert.match(r, /startup: false, activationEvent: 'onView:infrakt\.servers'/);
    await wb().shot('activated-servers-view');
  });
});
