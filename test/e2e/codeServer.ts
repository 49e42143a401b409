// code-server for the UI tests and the in-host suite: installed once by
// scripts/install-code-server.sh, one throwaway profile per instance, started
// on a free 127.0.0.1 port and stopped (with its whole process group) on teardown.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { ROOT, onTeardown, recordTiming, waitFor } from './world';

export const CODE_SERVER_VERSION = '4.100.3';

/** Settings for a test profile: quiet, no trust prompt, a fixed theme. */
export function profileSettings(theme = 'Default Dark Modern'): Record<string, unknown> {
  return {
    'telemetry.telemetryLevel': 'off',
    'security.workspace.trust.enabled': false,
    'workbench.colorTheme': theme,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'chat.commandCenter.enabled': false,
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'git.openRepositoryInParentFolders': 'never',
    'window.dialogStyle': 'custom',
  };
}

function run(cmd: string, args: string[], what: string): string {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-40).join('\n');
    throw new Error(
      `${what} failed (${cmd} ${args.join(' ')}):\n${out}${r.error ? `\n${r.error.message}` : ''}`,
    );
  }
  recordTiming(what, Date.now() - started);
  return r.stdout;
}

/** Newest modification time under the given paths (files or folders), in ms. */
function newestMtime(paths: string[]): number {
  let newest = 0;
  const visit = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    } else {
      newest = Math.max(newest, st.mtimeMs);
    }
  };
  paths.forEach(visit);
  return newest;
}

const BUILD_INPUTS = [
  'package.json',
  'esbuild.config.mjs',
  'src',
  'webview',
  'media',
  '.vscodeignore',
  'README.md',
];

function isStale(output: string): boolean {
  if (!fs.existsSync(output)) return true;
  return newestMtime(BUILD_INPUTS.map((p) => path.join(ROOT, p))) > fs.statSync(output).mtimeMs;
}

/** The packaged VSIX, built with `npm run package` when missing or older than its sources. */
export function ensureVsix(): string {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  const vsix = path.join(ROOT, `infrakt-${version}.vsix`);
  if (isStale(vsix)) {
    console.log(`  building ${path.basename(vsix)} (npm run package)`);
    run('npm', ['run', '--silent', 'package'], 'npm run package');
  }
  return vsix;
}

/** dist/ for the in-host suite, which loads the extension from this folder. */
export function ensureDist(): void {
  if (isStale(path.join(ROOT, 'dist', 'extension.js'))) {
    console.log('  building dist/ (npm run build)');
    run('npm', ['run', '--silent', 'build'], 'npm run build');
  }
}

/**
 * Installs code-server once (tool cache) and returns its entry script. The script's
 * progress (stderr: each step with its elapsed time) goes straight to the terminal.
 */
export function installCodeServer(): string {
  const started = Date.now();
  const script = path.join(ROOT, 'scripts', 'install-code-server.sh');
  const r = spawnSync('bash', [script], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) {
    throw new Error(
      `code-server install failed (bash ${script}, exit ${r.status ?? r.signal}); its output is above`,
    );
  }
  recordTiming('code-server install', Date.now() - started);
  const entry = r.stdout.trim().split('\n').pop() ?? '';
  if (!fs.existsSync(entry))
    throw new Error(`install-code-server.sh printed no entry script (got "${entry}")`);
  return entry;
}

/** An empty extensions dir (code-server refuses to install into one without extensions.json). */
export function makeExtensionsDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'extensions.json'), '[]');
  return dir;
}

export function installExtension(entry: string, extensionsDir: string, vsix: string): void {
  const scratch = fs.mkdtempSync(path.join(path.dirname(extensionsDir), 'install-'));
  run(
    process.execPath,
    [entry, '--extensions-dir', extensionsDir, '--user-data-dir', scratch, '--install-extension', vsix],
    'VSIX install',
  );
  fs.rmSync(scratch, { recursive: true, force: true });
}

export function freePort(): Promise<number> {
  return portIsFree(0);
}

/** Resolves to the port (a free one for 0) if 127.0.0.1:port can be bound, else rejects. */
export function portIsFree(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(bound));
    });
  });
}

/** The HTTP status of a GET (undefined when nothing answers within 2 s). */
export function httpStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(2000, () => req.destroy());
  });
}

export interface CodeServerOptions {
  entry: string;
  /** Folder for this instance's user-data dir, home and log (created). */
  dir: string;
  extensionsDir: string;
  /** Workspace folder opened by default (created). */
  workspace?: string;
  theme?: string;
  port?: number;
  /** Extra environment for code-server and so for its extension host. */
  env?: Record<string, string>;
}

export interface CodeServer {
  url: string;
  port: number;
  userDataDir: string;
  home: string;
  workspace: string;
  logFile: string;
  /** The workbench URL for the default workspace folder. */
  workbenchUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts code-server with its own user-data dir and HOME (so ~/.ssh, ~/.config
 * of the person running the tests are never read) and waits until it answers.
 */
export async function startCodeServer(opts: CodeServerOptions): Promise<CodeServer> {
  const started = Date.now();
  const userDataDir = path.join(opts.dir, 'user-data');
  const home = path.join(opts.dir, 'home');
  const workspace = opts.workspace ?? path.join(opts.dir, 'workspace');
  for (const d of [path.join(userDataDir, 'User'), home, workspace]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify(profileSettings(opts.theme), null, 2),
  );
  const port = opts.port ?? (await freePort());
  const config = path.join(opts.dir, 'code-server.yaml');
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const logFile = path.join(opts.dir, 'code-server.log');
  const log = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      opts.entry,
      '--config',
      config,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--user-data-dir',
      userDataDir,
      '--extensions-dir',
      opts.extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      workspace,
    ],
    {
      // Its own process group, so stop() also ends the extension hosts it forks.
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, HOME: home, ...opts.env },
    },
  );
  fs.closeSync(log);
  let exited: number | string | null | undefined;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? signal;
      resolve();
    }),
  );

  const stop = onTeardown(`code-server :${port}`, async () => {
    if (exited !== undefined || child.pid === undefined) return;
    const group = -child.pid;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(group, sig);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const killed = await Promise.race([
      exitedPromise.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
    ]);
    // Whatever is left of the group (extension hosts, pty host) goes too.
    signal(killed ? 'SIGTERM' : 'SIGKILL');
  });

  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      `code-server on ${url}`,
      async () => {
        if (exited !== undefined) {
          throw new Error(
            `code-server exited (${exited}):\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`,
          );
        }
        return (await httpStatus(`${url}/healthz`)) === 200 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  recordTiming('code-server start', Date.now() - started);
  return {
    url,
    port,
    userDataDir,
    home,
    workspace,
    logFile,
    workbenchUrl: `${url}/?folder=${encodeURIComponent(workspace)}`,
    stop,
  };
}

/** The extension's "Infrakt" log files, newest session last. */
export function infraktLogFiles(userDataDir: string): string[] {
  const logs = path.join(userDataDir, 'logs');
  if (!fs.existsSync(logs)) return [];
  const found: string[] = [];
  for (const session of fs.readdirSync(logs).sort()) {
    const sessionDir = path.join(logs, session);
    if (!fs.statSync(sessionDir).isDirectory()) continue;
    for (const host of fs.readdirSync(sessionDir).sort()) {
      const file = path.join(sessionDir, host, 'infrakt.infrakt', 'Infrakt.log');
      if (host.startsWith('exthost') && fs.existsSync(file)) found.push(file);
    }
  }
  return found;
}
