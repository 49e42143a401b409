// `npm run sandbox` stopped the way an IDE's stop button or a process manager stops it:
// one signal to the `npm` process only (not to its process group, as a terminal's Ctrl-C
// would). Everything it started — the VSIX build, code-server and its extension hosts,
// sshd, s3rver, PostgreSQL — must be gone after it, and its last line must say it stopped.
// Each process of the run is found, wherever it was reparented, by a marker in its
// environment (inherited by what the run starts, PostgreSQL included) or by the run's own
// temp dir in its command line (sshd gets an environment of its own).
import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, httpStatus } from '../codeServer';
import { ROOT, onTeardown, recordTiming, waitFor } from '../world';

const MARKER_VAR = 'INFRAKT_SANDBOX_TEST_RUN';
const STOPPED_LINE = 'sandbox: stopped; nothing it started is running';

interface Proc {
  pid: number;
  cmd: string;
}

/**
 * Live processes whose environment carries the run's marker or whose command line names its
 * dir (zombies have neither, so they do not count).
 */
function processesOf(run: { marker: string; dir: string }): Proc[] {
  const needle = `${MARKER_VAR}=${run.marker}\0`;
  const found: Proc[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmd.includes(run.dir) || fs.readFileSync(`/proc/${name}/environ`, 'latin1').includes(needle)) {
        found.push({ pid: Number(name), cmd });
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

interface SandboxRun {
  npm: ChildProcess;
  marker: string;
  dir: string;
  port: number;
  output: string[];
  exited: Promise<void>;
  lastLine(): string;
}

async function startSandbox(dir: string): Promise<SandboxRun> {
  const marker = crypto.randomBytes(8).toString('hex');
  const port = await freePort();
  // npm in a process group of its own, so the signal goes to npm alone.
  const npm = spawn('npm', ['run', 'sandbox'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      INFRAKT_SANDBOX_DIR: dir,
      INFRAKT_SANDBOX_PORT: String(port),
      [MARKER_VAR]: marker,
    },
  });
  const output: string[] = [];
  let partial = '';
  const take = (d: string) => {
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines);
  };
  npm.stdout?.setEncoding('utf8').on('data', take);
  npm.stderr?.setEncoding('utf8').on('data', take);
  const exited = new Promise<void>((resolve) =>
    npm.once('close', () => {
      if (partial) output.push(partial);
      resolve();
    }),
  );
  onTeardown(`sandbox run ${marker}`, async () => {
    for (const p of processesOf({ marker, dir })) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  });
  const lastLine = () =>
    output
      .filter((l) => l.trim() !== '')
      .pop()
      ?.trim() ?? '';
  return { npm, marker, dir, port, output, exited, lastLine };
}

/** After the run's npm exited: nothing of it may be left (a process that is ending gets 5 s). */
async function assertNothingLeft(run: SandboxRun): Promise<void> {
  const deadline = Date.now() + 5000;
  let left = processesOf(run);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = processesOf(run);
  }
  assert.deepEqual(
    left.map((p) => `${p.pid} ${p.cmd.slice(0, 160)}`),
    [],
    `still running after the sandbox stopped; its output:\n${run.output.join('\n')}`,
  );
}

async function exitWithin(run: SandboxRun, ms: number): Promise<void> {
  const timedOut = await Promise.race([
    run.exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), ms)),
  ]);
  assert.ok(!timedOut, `npm run sandbox still running ${ms} ms after the signal:\n${run.output.join('\n')}`);
}

describe('npm run sandbox, stopped by a signal to the npm process alone', function () {
  this.timeout(600_000);
  let dir: string;

  beforeEach(() => {
    const made = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-sandbox-signal-'));
    fs.chmodSync(made, 0o755); // PostgreSQL runs as its own user and must reach its data dir
    onTeardown(`sandbox dir ${made}`, () => fs.rmSync(made, { recursive: true, force: true }));
    dir = made;
  });

  it('SIGTERM once VS Code is up: code-server, sshd, s3rver and PostgreSQL stop, and the last line says so', async () => {
    const run = await startSandbox(dir);
    const started = Date.now();
    await waitFor(
      'the sandbox to say VS Code is running',
      () => {
        if (run.output.some((l) => l.includes('is running in VS Code'))) return true;
        if (run.npm.exitCode !== null || run.npm.signalCode !== null) {
          throw new Error(`npm run sandbox exited before it was up:\n${run.output.join('\n')}`);
        }
        return undefined;
      },
      { timeoutMs: 480_000, intervalMs: 250 },
    );
    recordTiming('npm run sandbox: up', Date.now() - started);
    const codeServerUrl = `http://127.0.0.1:${run.port}/healthz`;
    assert.equal(await httpStatus(codeServerUrl), 200, 'code-server answers on the port it printed');
    // s3rver runs inside the world process: it is seen by its endpoint.
    const s3Url = /s3rver\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(run.output.join('\n'))?.[1];
    assert.ok(s3Url, `no s3rver endpoint in the output:\n${run.output.join('\n')}`);
    assert.notEqual(await httpStatus(s3Url), undefined, 's3rver answers');

    const running = processesOf(run).map((p) => p.cmd);
    for (const [what, pattern] of [
      ['code-server', /code-server\/out\/node\/entry\.js/],
      ['sshd', /sshd .*-f \S*sshd_config/],
      ['PostgreSQL', /postgres .*-D \S*\/data/],
      ['the world process', /world\.js start/],
    ] as const) {
      assert.ok(
        running.some((c) => pattern.test(c)),
        `${what} is not among the run's processes:\n${running.join('\n')}`,
      );
    }

    const signalled = Date.now();
    process.kill(run.npm.pid as number, 'SIGTERM');
    await exitWithin(run, 60_000);
    recordTiming('npm run sandbox: stopped after SIGTERM', Date.now() - signalled);
    await assertNothingLeft(run);
    assert.equal(run.lastLine(), STOPPED_LINE, run.output.join('\n'));
    assert.equal(await httpStatus(codeServerUrl), undefined, 'code-server no longer answers');
    assert.equal(await httpStatus(s3Url), undefined, 's3rver no longer answers');
  });

  it('SIGINT while it builds the VSIX: the build stops too', async () => {
    const run = await startSandbox(dir);
    await waitFor(
      'the VSIX build (esbuild or vsce) to run',
      () => {
        if (run.npm.exitCode !== null || run.npm.signalCode !== null) {
          throw new Error(`npm run sandbox exited before its build:\n${run.output.join('\n')}`);
        }
        return processesOf(run).some((p) => /esbuild|vsce/.test(p.cmd)) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 50 },
    );
    process.kill(run.npm.pid as number, 'SIGINT');
    await exitWithin(run, 20_000);
    await assertNothingLeft(run);
    assert.equal(run.lastLine(), STOPPED_LINE, run.output.join('\n'));
    assert.ok(!run.output.some((l) => l.includes('is running in VS Code')), run.output.join('\n'));
  });
});
