// Entry point: node out/bench/index.js [ssh|backup|restore|listing|cron|activation]... (all when none given).
// Prints numbers and, for each target, whether it is met; never fails on a
// missed target (exit 1 only when the bench itself could not run). Everything
// it starts is torn down on exit, on failure and on Ctrl-C / SIGTERM.
import '../test/support/shellText';
import { runActivationBench } from './activation';
import { runBackupBench } from './backup';
import { heading, loadNote, targetSummary, teardownAll } from './common';
import { runCronBench } from './cron';
import { runListingBench } from './listing';
import { runRestoreBench } from './restore';
import { runSshBench } from './ssh';

const BENCHES: Record<string, () => Promise<void>> = {
  ssh: runSshBench,
  backup: runBackupBench,
  restore: runRestoreBench,
  listing: runListingBench,
  cron: runCronBench,
  activation: runActivationBench,
};

async function main(): Promise<number> {
  const names = process.argv.slice(2);
  for (const n of names) {
    if (!(n in BENCHES)) {
      console.error(`usage: node out/bench/index.js [${Object.keys(BENCHES).join('|')}]...`);
      return 2;
    }
  }
  const t0 = performance.now();
  console.log(
    `infrakt benchmarks — ${new Date().toISOString()}; INFRAKT_BENCH_MB=${process.env.INFRAKT_BENCH_MB ?? '(500)'} INFRAKT_BENCH_REPEAT=${process.env.INFRAKT_BENCH_REPEAT ?? '(3)'} INFRAKT_BENCH_RUNS=${process.env.INFRAKT_BENCH_RUNS ?? '(20)'}`,
  );
  for (const n of names.length ? names : Object.keys(BENCHES)) {
    console.log(`\n[${n}] before: ${loadNote()}`);
    await BENCHES[n]();
    console.log(`\n[${n}] after: ${loadNote()}`);
  }
  heading(`Targets (${((performance.now() - t0) / 1000).toFixed(0)} s in all)`);
  const all = targetSummary();
  for (const t of all) console.log(`  ${t.met ? 'MET   ' : 'MISSED'}  ${t.name} — ${t.detail}`);
  console.log(`${all.filter((t) => t.met).length} of ${all.length} targets met`);
  return 0;
}

let signalled = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (signalled) {
      console.error(`\n${sig} again: exiting without finishing the teardown`);
      process.exit(130);
    }
    signalled = true;
    console.error(`\n${sig}: tearing down…`);
    void teardownAll(1500).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

main()
  .catch((err: unknown) => {
    if (!signalled)
      console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  })
  .then(async (code) => {
    await teardownAll();
    if (!signalled) process.exit(code);
  });
