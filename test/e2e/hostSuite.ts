// Launches the in-host mocha suite (test/host/) inside code-server's real
// extension host: the extension is loaded from this repository folder and the
// suite's run() is called, both through the workbench's `payload` URL route
// (code-server refuses --extensionDevelopmentPath). The results come back as a
// JSON file; their counts join the test command's summary.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ENV_HOLD_UNTIL,
  ENV_RESULTS,
  ENV_STORE,
  EXTENSION_ID,
  type HostResults,
  type HostTestResult,
  SEED_DATABASES,
} from '../host/seedData';
import { seedHostStore } from '../host/seed';
import { ensureDist, makeExtensionsDir, startCodeServer } from './codeServer';
import { Workbench, launchBrowser } from './workbench';
import { ROOT, nextShotPath, recordTiming, waitFor, world } from './world';

const RUNNER = path.join(ROOT, 'out', 'test', 'host', 'index.js');

function appendStats({ passed, failed, skipped }: { passed: number; failed: number; skipped: number }): void {
  const file = process.env.INFRAKT_STATS_FILE;
  if (file) fs.appendFileSync(file, JSON.stringify({ passed, failed, skipped }) + '\n');
}

function printResults(results: HostResults): void {
  console.log(`\n  in-host suite (VS Code ${results.vscodeVersion}, extension loaded from ${ROOT})`);
  for (const t of results.tests) {
    const ms = `(${t.durationMs} ms)`;
    if (t.state === 'passed') console.log(`    ✔ ${t.title} ${ms}`);
    else if (t.state === 'pending') console.log(`    - ${t.title} (skipped)`);
    else console.log(`    ✖ ${t.title} ${ms}\n${(t.error ?? '').replace(/^/gm, '        ')}`);
  }
  const skipped = results.skipped ? `, ${results.skipped} skipped` : '';
  console.log(`  in-host: ${results.passed} passed, ${results.failed} failed${skipped}\n`);
}

/**
 * One more check from outside, once the suite is done: the view the extension
 * registered shows the seeded store (the in-host tree test builds its own provider).
 */
async function checkSeededView(wb: Workbench): Promise<HostTestResult> {
  const title = 'the registered Servers view shows the seeded servers and databases (UI)';
  const started = Date.now();
  try {
    await wb.openInfrakt();
    const web = wb.treeRow('seed-web');
    await web.waitFor({ state: 'visible', timeout: 30_000 });
    await wb.treeRow('seed-empty').waitFor({ state: 'visible' });
    await web.locator('.monaco-tl-twistie').click();
    for (const db of SEED_DATABASES) await wb.treeRow(db.name).waitFor({ state: 'visible' });
    if ((await wb.treeRow('seed-added').count()) > 0)
      throw new Error('seed-added (removed by a test) is still shown');
    await wb.shot('host-suite-seeded-tree');
    return { title, state: 'passed', durationMs: Date.now() - started };
  } catch (err) {
    await wb.shot('host-suite-seeded-tree-failed').catch(() => undefined);
    return { title, state: 'failed', durationMs: Date.now() - started, error: String(err) };
  }
}

function withResult(results: HostResults, extra: HostTestResult): HostResults {
  return {
    ...results,
    passed: results.passed + (extra.state === 'passed' ? 1 : 0),
    failed: results.failed + (extra.state === 'failed' ? 1 : 0),
    tests: [...results.tests, extra],
  };
}

/** Runs the suite; returns the number of failures (also added to $INFRAKT_STATS_FILE). */
export async function runHostSuite(): Promise<number> {
  const started = Date.now();
  if (!fs.existsSync(RUNNER)) throw new Error(`${RUNNER} missing: compile first (npx tsc -p tsconfig.json)`);
  ensureDist();
  const w = world();
  const dir = path.join(w.workDir, 'host-suite');
  const userDataDir = path.join(dir, 'user-data');
  const storeFile = path.join(userDataDir, 'User', 'globalStorage', EXTENSION_ID, 'infrakt.sqlite');
  const resultsFile = path.join(dir, 'host-results.json');
  const releaseFile = path.join(dir, 'host-release');
  await seedHostStore(storeFile);

  // No installed extensions: the one under test comes from this folder.
  const server = await startCodeServer({
    entry: w.codeServerEntry,
    dir,
    extensionsDir: makeExtensionsDir(path.join(dir, 'extensions')),
    env: { [ENV_RESULTS]: resultsFile, [ENV_STORE]: storeFile, [ENV_HOLD_UNTIL]: releaseFile },
  });
  const browser = await launchBrowser();
  try {
    const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(ROOT)],
      ['extensionTestsPath', remote(RUNNER)],
    ];
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(
      `${server.url}/?folder=${encodeURIComponent(server.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`,
    );
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    let results: HostResults;
    try {
      results = await waitFor(
        'the in-host suite to write its results',
        () =>
          fs.existsSync(resultsFile)
            ? (JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as HostResults)
            : undefined,
        { timeoutMs: 180_000, intervalMs: 250 },
      );
    } catch (err) {
      await page.screenshot({ path: nextShotPath('host-suite-no-results') }).catch(() => undefined);
      throw err;
    }
    results = withResult(results, await checkSeededView(Workbench.attach(server, browser, page)));
    fs.writeFileSync(releaseFile, '');
    printResults(results);
    appendStats(results);
    recordTiming('in-host suite (start to results)', Date.now() - started);
    return results.failed;
  } catch (err) {
    console.log(`\n  in-host suite did not report: ${err instanceof Error ? err.message : String(err)}`);
    console.log(`  code-server log: ${server.logFile}`);
    appendStats({ passed: 0, failed: 1, skipped: 0 });
    return 1;
  } finally {
    await browser.close();
    await server.stop();
  }
}
