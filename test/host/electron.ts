// `npm run test:vscode`: the in-host suite in desktop VS Code through
// @vscode/test-electron (downloads VS Code, so it needs internet access and a
// display or xvfb-run). The same test files run here through code-server's
// payload route as part of `npm test` (test/e2e/hostSuite.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { seedHostStore } from './seed';
import { ENV_RESULTS, ENV_STORE, EXTENSION_ID, type HostResults } from './seedData';

const ROOT = path.resolve(__dirname, '..', '..', '..');

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-vscode-'));
  const userDataDir = path.join(dir, 'user-data');
  const storeFile = path.join(userDataDir, 'User', 'globalStorage', EXTENSION_ID, 'infrakt.sqlite');
  const resultsFile = path.join(dir, 'results.json');
  const workspace = path.join(dir, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  await seedHostStore(storeFile);
  try {
    await runTests({
      version: process.env.INFRAKT_VSCODE_VERSION || 'stable',
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: path.join(__dirname, 'index.js'),
      launchArgs: [
        '--user-data-dir',
        userDataDir,
        '--disable-extensions',
        '--disable-workspace-trust',
        workspace,
      ],
      extensionTestsEnv: { [ENV_RESULTS]: resultsFile, [ENV_STORE]: storeFile },
    });
  } catch (err) {
    console.error(`VS Code did not run the suite: ${(err as Error).message}`);
    return 1;
  }
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as HostResults;
  for (const t of results.tests)
    console.log(`  ${t.state === 'passed' ? '✔' : t.state === 'failed' ? '✘' : '-'} ${t.title}`);
  console.log(
    `in-host (VS Code ${results.vscodeVersion}): ${results.passed} passed, ${results.failed} failed`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  return results.failed > 0 ? 1 : 0;
}

void main().then((code) => process.exit(code));
