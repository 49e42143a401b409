// The UI test launcher (npm run test:e2e → node out/test/e2e/run.js [ui|host] [--grep text]):
// (INFRAKT_E2E_VSIX=<file> tests that package; INFRAKT_E2E_KEEP=1 keeps the temp profiles)
// builds the VSIX if needed, installs code-server once, installs the VSIX into a
// throwaway extensions dir, runs the Playwright specs (each starts its own
// code-server profile) and then the in-host mocha suite through code-server's
// payload route. Everything it starts is stopped at the end, on failure and on Ctrl-C.
import '../support/shellText';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Mocha from 'mocha';
import { ensureVsix, installCodeServer, installExtension, makeExtensionsDir } from './codeServer';
import { runHostSuite } from './hostSuite';
import { ROOT, SHOTS_DIR, onTeardown, resetShots, setWorld, teardownAll, timings } from './world';

const REPORTER = path.join(ROOT, 'test', 'support', 'summary-reporter.cjs');
const SPECS_DIR = path.join(__dirname, 'specs');

interface Args {
  suites: Set<'ui' | 'host'>;
  grep?: string;
}

function parseArgs(argv: string[]): Args {
  const suites = new Set<'ui' | 'host'>();
  let grep: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === 'ui' || a === 'host') suites.add(a);
    else if (a === '--grep' || a === '-g') grep = argv[++i];
    else throw new Error(`unknown argument "${a}" (use: ui host --grep <text>)`);
  }
  if (suites.size === 0) ['ui', 'host'].forEach((s) => suites.add(s as 'ui' | 'host'));
  return { suites, grep };
}

function runUiSpecs(grep: string | undefined): Promise<number> {
  const mocha = new Mocha({ reporter: REPORTER, timeout: 60_000, slow: 10_000, grep });
  for (const f of fs.readdirSync(SPECS_DIR).sort()) {
    if (f.endsWith('.spec.js')) mocha.addFile(path.join(SPECS_DIR, f));
  }
  return new Promise((resolve) => {
    const runner = mocha.run((failures) => resolve(failures));
    runner.on('test end', (test) => {
      if (test.state === 'passed' || test.state === 'failed') {
        timings.push({ label: `spec: ${test.fullTitle()}`, ms: test.duration ?? 0 });
      }
    });
  });
}

/** On failure CI keeps test-results/: copy the code-server and extension logs there. */
function keepLogs(workDir: string): void {
  const dest = path.join(SHOTS_DIR, 'logs');
  for (const instance of fs.existsSync(workDir) ? fs.readdirSync(workDir) : []) {
    const dir = path.join(workDir, instance);
    const csLog = path.join(dir, 'code-server.log');
    if (!fs.existsSync(csLog)) continue;
    fs.mkdirSync(path.join(dest, instance), { recursive: true });
    fs.copyFileSync(csLog, path.join(dest, instance, 'code-server.log'));
    const logs = path.join(dir, 'user-data', 'logs');
    if (fs.existsSync(logs)) fs.cpSync(logs, path.join(dest, instance, 'logs'), { recursive: true });
  }
  console.log(`  logs kept in ${path.relative(ROOT, dest)}/`);
}

function printTimings(): void {
  console.log('\n  timings');
  for (const t of timings) console.log(`    ${(t.ms / 1000).toFixed(1).padStart(6)} s  ${t.label}`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  resetShots();

  // INFRAKT_E2E_VSIX tests a given package instead of building this tree's.
  const vsix = !args.suites.has('ui') ? '' : process.env.INFRAKT_E2E_VSIX || ensureVsix();
  const codeServerEntry = installCodeServer();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-e2e-'));
  let failed = 0;
  onTeardown('temp dir', () => {
    if (failed > 0) keepLogs(workDir);
    if (process.env.INFRAKT_E2E_KEEP) console.log(`  kept ${workDir} (INFRAKT_E2E_KEEP)`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  });

  try {
    const extensionsDir = makeExtensionsDir(path.join(workDir, 'extensions'));
    setWorld({ codeServerEntry, extensionsDir, workDir, vsix });
    if (args.suites.has('ui')) {
      installExtension(codeServerEntry, extensionsDir, vsix);
      failed += await runUiSpecs(args.grep);
    }
    if (args.suites.has('host')) failed += await runHostSuite();
  } catch (err) {
    failed++;
    throw err;
  } finally {
    printTimings();
    console.log(
      `  total ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${path.relative(ROOT, SHOTS_DIR)}/`,
    );
    await teardownAll();
  }
  return failed;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${sig}: stopping code-server and Chromium`);
    void teardownAll().finally(() => process.exit(130));
  });
}

main().then(
  (failed) => process.exit(failed > 0 ? 1 : 0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
