// The gate between the backup stream and a streaming uploader, run for real
// under bash and dash with a stub pg_dump and a stub "uploader" that, like
// `aws s3 cp -`, commits whatever it read once its input ends. A failed,
// killed or dropped run must never let it see the end of its input.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError, type BackupTarget, backUpNow, backupScript } from '../../src/core/backup';
import { SINK_STATUS } from '../../src/core/remote/protocol';
import { pgrep } from '../support/processes';
import { type SinkParts, commandSink } from '../support/sinks';
import { until as untilAt } from '../world/databases';
import { localRunner } from '../world/localRunner';

const shells = ['bash', 'dash'].filter((s) => spawnSync(s, ['-c', 'true']).status === 0);
const ROUNDS = 4;

const until = (what: string, ok: () => boolean, ms = 8000) => untilAt(what, ok, ms);

describe('the upload gate: a streaming sink commits only a complete, committed backup (bash, dash)', function () {
  this.timeout(60_000);
  let work: string;
  let stubs: string;
  let data: string;
  let n = 0;

  const stub = (name: string, body: string) =>
    fs.writeFileSync(path.join(stubs, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-gate-'));
    stubs = path.join(work, 'stubs');
    fs.mkdirSync(stubs);
    data = path.join(work, 'dump.bin');
    fs.writeFileSync(data, crypto.randomBytes(4e6));
    // STUB_DUMP_FAIL: part of the dump, then a failure. STUB_DUMP_SLOW: the dump goes on for a while.
    stub(
      'pg_dump',
      [
        'if [ -n "${STUB_DUMP_FAIL:-}" ]; then head -c 300000 "$STUB_DATA"; exit 3; fi',
        'if [ -n "${STUB_DUMP_SLOW:-}" ]; then head -c 300000 "$STUB_DATA"; sleep 4; fi',
        'cat "$STUB_DATA"',
      ].join('\n'),
    );
    // Like `aws s3 cp -`: reads everything, then "completes the upload" (renames into place).
    // One process, reading its input in a pipe read, as awscli does.
    fs.writeFileSync(
      path.join(stubs, 'uploader'),
      '#!/usr/bin/env python3\nimport os, sys\nd = sys.stdin.buffer.read()\nopen(sys.argv[1] + ".part", "wb").write(d)\nos.rename(sys.argv[1] + ".part", sys.argv[1])\n',
      { mode: 0o755 },
    );
    // Reads a little, then never reads again (an endpoint that hangs).
    stub('hanging-uploader', 'head -c 100000 > /dev/null; exec sleep 600');
    // Takes all of its input at once, then "completes the upload" for 3 s.
    stub('slow-uploader', 'cat > "$1.part"; sleep 3; mv "$1.part" "$1"');
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  function setup(shell: string, env: NodeJS.ProcessEnv = {}) {
    n++;
    const dir = path.join(work, `run-${n}`);
    const token = `infrakt-gate-token-${n}-${process.pid}`;
    const uploaded = path.join(dir, 'uploaded');
    const marks = path.join(dir, 'marks');
    fs.mkdirSync(marks, { recursive: true });
    const sink = (over: Partial<SinkParts> = {}) =>
      commandSink({
        id: 's3',
        // The token in argv finds the sink process afterwards.
        run: `uploader ${uploaded} ${token}`,
        after: `cmp -s "$INFRAKT_FILE" ${uploaded} && : > ${marks}/committed`,
        abort: `: > ${marks}/aborted`,
        ...over,
      });
    const target: BackupTarget = {
      server: { name: 'web-1', backupDir: path.join(dir, 'backups') },
      database: { name: 'shop', engine: 'postgres', mode: 'host', dbHost: '127.0.0.1', dbPort: 5432 },
    };
    const runner = localRunner({
      shell: [shell, '-s'],
      env: { ...process.env, PATH: `${stubs}:${process.env.PATH ?? ''}`, STUB_DATA: data, ...env },
    });
    const backups = () =>
      fs.existsSync(target.server.backupDir) ? fs.readdirSync(target.server.backupDir) : [];
    return { dir, token, uploaded, marks, sink, target, runner, backups };
  }

  for (const shell of shells) {
    describe(shell, () => {
      it('a good run: the sink gets the whole file, then `after` commits it', async () => {
        for (let i = 0; i < ROUNDS; i++) {
          const w = setup(shell);
          const r = await backUpNow(w.runner, w.target, { extraSinks: [w.sink()] });
          assert.deepEqual(r.failedSinks, []);
          assert.ok(fs.existsSync(path.join(w.marks, 'committed')), 'after ran and the bytes matched');
          assert.ok(!fs.existsSync(path.join(w.marks, 'aborted')));
          assert.equal(fs.statSync(w.uploaded).size, r.size);
        }
      });

      it('the sinks’ sweep runs at most once an hour per database (0: every run); the stamp stays out of the listing', async () => {
        const w = setup(shell);
        const swept = path.join(w.marks, 'swept');
        const sink = () => w.sink({ sweep: `echo x >> ${swept}` });
        const count = () =>
          fs.existsSync(swept) ? fs.readFileSync(swept, 'utf8').split('\n').length - 1 : 0;
        await backUpNow(w.runner, w.target, { extraSinks: [sink()] });
        await backUpNow(w.runner, w.target, { extraSinks: [sink()] });
        assert.equal(count(), 1, 'the second run within the hour does not sweep');
        const stamp = path.join(w.target.server.backupDir, '.sweep-web-1_shop_postgres_');
        fs.writeFileSync(stamp, `${Math.floor(Date.now() / 1000) - 3700}\n`);
        await backUpNow(w.runner, w.target, { extraSinks: [sink()] });
        assert.equal(count(), 2, 'an hour later it sweeps again');
        fs.writeFileSync(stamp, 'garbage\n');
        await backUpNow(w.runner, w.target, { extraSinks: [sink()] });
        assert.equal(count(), 3, 'an unreadable stamp is a sweep due');
        await backUpNow(w.runner, w.target, { extraSinks: [sink()], sweepEverySeconds: 0 });
        await backUpNow(w.runner, w.target, { extraSinks: [sink()], sweepEverySeconds: 0 });
        assert.equal(count(), 5, 'with 0 every run sweeps');
        assert.ok(
          w
            .backups()
            .every((f) => f === '.sweep-web-1_shop_postgres_' || f.startsWith('web-1_shop_postgres_')),
        );
      });

      it('a dump that fails mid-stream: the sink is killed before its input ends, nothing committed, abort ran', async () => {
        for (let i = 0; i < ROUNDS; i++) {
          const w = setup(shell, { STUB_DUMP_FAIL: '1' });
          await assert.rejects(
            backUpNow(w.runner, w.target, { extraSinks: [w.sink()] }),
            (e: unknown) => e instanceof BackupError && e.kind === 'dump-failed',
          );
          assert.ok(!fs.existsSync(w.uploaded), `round ${i}: the truncated stream was committed by the sink`);
          assert.ok(fs.existsSync(path.join(w.marks, 'aborted')), 'abort ran');
          assert.deepEqual(w.backups(), []);
          await until('the sink process to be gone', () => pgrep(w.token).length === 0);
        }
      });

      it('a sink that fails on its own: the local backup is complete, the sink reported failed and aborted', async () => {
        const w = setup(shell);
        const r = await backUpNow(w.runner, w.target, {
          extraSinks: [w.sink({ run: `false ${w.token}` })],
        });
        assert.deepEqual(r.failedSinks, ['s3']);
        assert.equal(r.sinks.s3, 1);
        assert.ok(fs.existsSync(path.join(w.marks, 'aborted')));
        assert.equal(w.backups().length, 2);
      });

      it('a sink whose check fails is never started (127); the local backup is complete', async () => {
        const w = setup(shell);
        const r = await backUpNow(w.runner, w.target, { extraSinks: [w.sink({ check: 'false' })] });
        assert.equal(r.sinks.s3, 127);
        assert.ok(!fs.existsSync(path.join(w.marks, 'aborted')), 'nothing to abort');
        assert.equal(w.backups().length, 2);
      });

      it('a sink that stops reading is stopped after its stall limit; the local backup completes', async () => {
        const w = setup(shell);
        const started = Date.now();
        const r = await backUpNow(w.runner, w.target, {
          extraSinks: [w.sink({ run: `hanging-uploader ${w.token}`, stallSeconds: 3 })],
        });
        const took = (Date.now() - started) / 1000;
        assert.equal(r.sinks.s3, SINK_STATUS.stalled);
        assert.deepEqual(r.failedSinks, ['s3']);
        assert.equal(w.backups().length, 2);
        assert.ok(took < 20, `took ${took} s`);
        await until('the stalled sink to be gone', () => pgrep(w.token).length === 0);
      });

      it('a slow dump is not a stall: the sink is left alone while no data is waiting for it', async () => {
        const w = setup(shell, { STUB_DUMP_SLOW: '1' });
        const r = await backUpNow(w.runner, w.target, { extraSinks: [w.sink({ stallSeconds: 2 })] });
        assert.deepEqual(r.failedSinks, []);
        assert.ok(fs.existsSync(path.join(w.marks, 'committed')));
      });

      it('the watchdog outlives the dump: progress goes on while a sink is still uploading after the compressor has exited', async () => {
        const w = setup(shell);
        const ticks: number[] = [];
        let stderr = '';
        const r = await backUpNow(w.runner, w.target, {
          extraSinks: [w.sink({ run: `slow-uploader ${w.uploaded} ${w.token}` })],
          onProgress: () => ticks.push(Date.now()),
          onStderr: (c) => (stderr += c),
        });
        const dumpEnded = fs.statSync(path.join(w.target.server.backupDir, r.file)).mtimeMs;
        assert.deepEqual(r.failedSinks, []);
        assert.doesNotMatch(stderr, /unbound variable|parameter not set|not set/);
        assert.ok(
          ticks.filter((t) => t > dumpEnded).length >= 2,
          `progress lines after the file was complete: ${ticks.map((t) => t - dumpEnded).join(', ')} ms`,
        );
      });

      it('the script killed with SIGKILL mid-stream: the watchdog kills the sink before its input ends', async () => {
        for (let i = 0; i < ROUNDS; i++) {
          const w = setup(shell, { STUB_DUMP_SLOW: '1' });
          const script = backupScript(w.target, { extraSinks: [w.sink()] });
          const env = {
            ...process.env,
            PATH: `${stubs}:${process.env.PATH ?? ''}`,
            STUB_DATA: data,
            STUB_DUMP_SLOW: '1',
          };
          const child = (await import('node:child_process')).spawn(shell, ['-s'], {
            env,
            stdio: ['pipe', 'ignore', 'ignore'],
          });
          child.stdin.end(script);
          await until('the sink to start', () => pgrep(w.token).length > 0);
          await new Promise((r) => setTimeout(r, 300));
          child.kill('SIGKILL');
          await until('the watchdog to end the sink', () => pgrep(w.token).length === 0);
          await new Promise((r) => setTimeout(r, 5000)); // the dump would have finished by now
          assert.ok(
            !fs.existsSync(w.uploaded),
            `round ${i}: a killed run's stream was committed by the sink`,
          );
          assert.deepEqual(
            w.backups().filter((f) => !f.endsWith('.partial')),
            [],
          );
          if (i >= 1) break; // each round waits out the slow dump
        }
      });

      it('the channel dropped mid-stream (stdout gone, no signal): the sink is killed before its input ends', async () => {
        for (let i = 0; i < ROUNDS; i++) {
          const w = setup(shell, { STUB_DUMP_SLOW: '1' });
          const runner = localRunner({
            shell: [shell, '-s'],
            dropOnAbort: true,
            env: {
              ...process.env,
              PATH: `${stubs}:${process.env.PATH ?? ''}`,
              STUB_DATA: data,
              STUB_DUMP_SLOW: '1',
            },
          });
          const ac = new AbortController();
          const run = backUpNow(runner, w.target, { extraSinks: [w.sink()], signal: ac.signal });
          await until('the sink to start', () => pgrep(w.token).length > 0);
          ac.abort();
          await run.catch(() => undefined);
          await until('the sink to be gone', () => pgrep(w.token).length === 0);
          assert.ok(
            !fs.existsSync(w.uploaded),
            `round ${i}: a dropped run's stream was committed by the sink`,
          );
          await until('the abort to run', () => fs.existsSync(path.join(w.marks, 'aborted')));
          await until('no partial left', () => w.backups().length === 0);
          if (i >= 1) break;
        }
      });
    });
  }
});
