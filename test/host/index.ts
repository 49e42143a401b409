// Runs inside the real extension host (extensionTestsPath): VS Code loads this
// module and calls run(). It runs the *.test.js files beside it with mocha and
// writes the results as JSON for the launcher, since a web workbench does not
// exit when run() ends. The same module works as @vscode/test-electron's runner.
import '../support/shellText';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import * as vscode from 'vscode';
import { ENV_HOLD_UNTIL, ENV_RESULTS, type HostResults, type HostTestResult } from './seedData';

/** Where the results go: $INFRAKT_HOST_RESULTS, or results.json next to this file. */
export function resultsFile(): string {
  return process.env[ENV_RESULTS] || path.join(__dirname, 'results.json');
}

function writeResults(results: HostResults): void {
  const file = resultsFile();
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(results, null, 2));
  fs.renameSync(tmp, file); // the launcher never sees half a file
}

async function holdUntilReleased(timeoutMs = 120_000): Promise<void> {
  const release = process.env[ENV_HOLD_UNTIL];
  if (!release) return;
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(release) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 30_000 });
  for (const f of fs.readdirSync(__dirname).sort()) {
    if (f.endsWith('.test.js')) mocha.addFile(path.join(__dirname, f));
  }
  const tests: HostTestResult[] = [];
  const record = (test: Mocha.Test, state: HostTestResult['state'], err?: Error) =>
    tests.push({
      title: test.fullTitle(),
      state,
      durationMs: test.duration ?? 0,
      error: err ? (err.stack ?? err.message) : undefined,
    });
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('pass', (t) => record(t, 'passed'));
    runner.on('fail', (t, err: Error) => record(t as Mocha.Test, 'failed', err));
    runner.on('pending', (t) => record(t, 'pending'));
  });
  const count = (state: HostTestResult['state']) => tests.filter((t) => t.state === state).length;
  const results: HostResults = {
    passed: count('passed'),
    failed: count('failed'),
    skipped: count('pending'),
    vscodeVersion: vscode.version,
    tests,
  };
  writeResults(results);
  await holdUntilReleased();
  if (results.failed > 0) throw new Error(`${results.failed} in-host test(s) failed`);
}
