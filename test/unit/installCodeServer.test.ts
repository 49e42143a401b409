// scripts/install-code-server.sh says what its long `npm install` is doing, with the time
// since it started, and a signal to the script stops that install. A stub `npm` (on PATH
// before the real one) plays the install: it "compiles" a native module for a few seconds.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/paths';
import { makeBin } from '../support/stubBin';

const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'install-code-server.sh');

interface Started {
  lines: string[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  marker: string;
}

function startInstall(dir: string, npmExit: number): Started {
  const marker = `infrakt-stub-gyp-${process.pid}-${Date.now()}`;
  const bin = makeBin(path.join(dir, 'bin'), {
    stubs: {
      npm: [
        'mkdir -p node_modules/argon2 && cd node_modules/argon2 || exit 2',
        `bash -c 'exec -a "node-gyp rebuild ${marker}" sleep 4'`,
        `exit ${npmExit}`,
      ].join('\n'),
    },
  });
  const child = spawn('bash', [SCRIPT], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, INFRAKT_TOOLS: path.join(dir, 'tools') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      if (buf) lines.push(buf);
      resolve(code);
    }),
  );
  return { lines, exited, kill: (s) => child.kill(s), marker };
}

function stubAlive(marker: string): boolean {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

async function until(what: string, probe: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('install-code-server.sh while npm installs', function () {
  this.timeout(30_000);
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('infrakt-cs-install-')));
  afterEach(() => tmp.cleanup());

  it('prints each step with the seconds since it started, then why it failed', async () => {
    const run = startInstall(tmp.dir, 1);
    const code = await run.exited;
    const text = run.lines.join('\n');
    assert.equal(code, 1, text);
    assert.match(text, /1 to 3 minutes/);
    assert.match(text, /\[\d+ s\] npm install: fetching code-server and its dependencies/);
    assert.match(text, /\[\d+ s\] npm install: compiling a native module \(node-gyp, in argon2\)/);
    assert.match(text, /npm install failed; full log: /);
    assert.ok(!text.includes('checking the native modules'), text);
  });

  it('stops the npm install it started when it is sent SIGTERM', async () => {
    const run = startInstall(tmp.dir, 0);
    await until('the compile step', () => run.lines.some((l) => l.includes('compiling a native module')));
    assert.ok(stubAlive(run.marker), 'the stub compile is not running');
    run.kill('SIGTERM');
    assert.equal(await run.exited, 143);
    await until('the stub compile to end', () => !stubAlive(run.marker), 3000);
  });
});
