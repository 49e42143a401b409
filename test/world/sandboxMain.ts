// The sandbox as a program (scripts/sandbox.sh bundles this file and runs it in its own
// process group):
//   node world.js start --dir <world dir> --store <infrakt.sqlite> [--ready-file <f>] [--watch-pid <pid>]
//     starts the world, seeds the store, prints what it started, writes <f> (JSON, with
//     `summary` lines) when everything listens and the store is seeded; SIGTERM/SIGINT (or
//     <pid> exiting) stops it all.
//   node world.js reap --dir <world dir>
//     stops an sshd or PostgreSQL of that dir left running by a killed world process.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alive } from './processes';
import { type SandboxWorld, reapLeftovers, startSandboxWorld } from './sandbox';
import { type SeedResult, seedStore } from './sandboxSeed';

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function summaryOf(world: SandboxWorld, storeFile: string, seed: SeedResult): string[] {
  return [
    `  sshd        127.0.0.1:${world.ssh.port}   user ${world.user}, key ${world.ssh.keyPath}`,
    `  s3rver      ${world.s3.endpointUrl}   bucket ${world.s3.bucket}, access key ${world.s3.accessKey}`,
    `  PostgreSQL  127.0.0.1:${world.postgres.port}   user ${world.postgres.user} (no password on 127.0.0.1), database ${world.postgres.database}`,
    `  store       ${storeFile}`,
    ...(seed.movedAside ? [`              an unreadable store was moved aside to ${seed.movedAside}`] : []),
    ...(seed.changes.length > 0 ? seed.changes : ['rows up to date']).map((c) => `              ${c}`),
    '',
    `  S3 secret key: ${world.s3.secretKey} — paste it once in Infrakt: Open S3 Settings`,
  ];
}

async function mainStart(args: string[]): Promise<void> {
  const dir = argValue(args, '--dir');
  const storeFile = argValue(args, '--store');
  if (!dir || !storeFile)
    throw new Error('usage: world.js start --dir <dir> --store <file> [--ready-file <file>]');
  const readyFile = argValue(args, '--ready-file');
  const watchPid = Number(argValue(args, '--watch-pid') ?? 0);
  const log = (line: string) => console.log(line);

  // Signals before the world is up only mark it: it stops as soon as start returns.
  const state: { world?: SandboxWorld; pending?: string; stopping?: boolean; watchdog?: NodeJS.Timeout } = {};
  const shutdown = (why: string) => {
    if (!state.world) {
      state.pending ??= why;
      return;
    }
    if (state.stopping) return;
    state.stopping = true;
    log(`world: ${why}, stopping`);
    if (state.watchdog) clearInterval(state.watchdog);
    if (readyFile) fs.rmSync(readyFile, { force: true });
    state.world.stop().then(
      () => process.exit(),
      (err) => {
        console.error(err instanceof Error ? err.message : String(err));
        process.exit(1);
      },
    );
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => shutdown(sig));
  if (watchPid > 0) {
    state.watchdog = setInterval(() => {
      if (!alive(watchPid)) shutdown(`process ${watchPid} exited`);
    }, 1000);
  }

  if (readyFile) fs.rmSync(readyFile, { force: true });
  log(`world: starting sshd, s3rver and PostgreSQL in ${path.resolve(dir)}`);
  const world = await startSandboxWorld({ dir, log });
  state.world = world;
  if (state.pending) return shutdown(state.pending);
  let seed: SeedResult;
  try {
    seed = await seedStore(path.resolve(storeFile), world);
  } catch (err) {
    await world.stop().catch(() => undefined);
    throw err;
  }
  if (state.stopping) return; // a signal came while seeding: no READY for a world going down
  const summary = summaryOf(world, path.resolve(storeFile), seed);
  for (const line of summary) log(line);
  if (readyFile) {
    const { stop: _stop, postgres, ...rest } = world;
    const { sql: _sql, ...pgInfo } = postgres;
    writeAtomic(
      readyFile,
      JSON.stringify(
        { pid: process.pid, ...rest, postgres: pgInfo, store: storeFile, seed, summary },
        null,
        2,
      ) + '\n',
    );
  }
  log('READY');
  if (state.pending) shutdown(state.pending);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command === 'start') return mainStart(args);
  if (command === 'reap') {
    const dir = argValue(args, '--dir');
    if (!dir) throw new Error('usage: world.js reap --dir <dir>');
    reapLeftovers(dir, (line) => console.log(line));
    return;
  }
  throw new Error(
    'usage: world.js start --dir <dir> --store <file> [--ready-file <file>] | reap --dir <dir>',
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`world: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
