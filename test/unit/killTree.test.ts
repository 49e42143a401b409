// infrakt_kill_tree (remote/sh/pipeline.sh), run for real under bash, dash and
// busybox ash: TERM reaches a process and everything under it, so a shell
// waiting for its foreground pipeline is not left waiting for tools that would
// run on (a scheduled run's cancelled verification restore).
import * as assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { SH } from '../../src/core/remote/modules';
import { pgrep } from '../support/processes';
import { SHELLS, runShell } from '../support/stubBin';

describe('infrakt_kill_tree: TERM to a process and all under it (bash, dash, busybox ash)', function () {
  this.timeout(30_000);
  for (const [label, argv] of SHELLS) {
    it(`${label}: a shell running a pipeline of two tools, and a grandchild of it, all end`, () => {
      // Durations nobody else uses: the processes are found by their command line.
      const a = `sleep 4${randomInt(100000, 999999)}`;
      const b = `sleep 5${randomInt(100000, 999999)}`;
      const c = `sleep 6${randomInt(100000, 999999)}`;
      const script = [
        SH.common.text,
        SH.pipeline.text,
        // A waiting shell whose foreground pipeline holds it: TERM alone would wait for the tools.
        `sh -c 'trap "exit 143" TERM; sh -c "${c}; true" & ${a} | ${b}; wait' &`,
        'p=$!',
        'sleep 0.5',
        'infrakt_kill_tree "$p"',
        'wait "$p"; echo "waited $?"',
      ].join('\n');
      const t0 = Date.now();
      const r = runShell(argv, script, { PATH: process.env.PATH ?? '/usr/bin:/bin' });
      const left = [a, b, c].flatMap((x) => pgrep(x));
      for (const pid of left) process.kill(Number(pid), 'SIGKILL');
      assert.deepEqual(left, [], 'no process of the tree is left');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /waited /);
      assert.ok(Date.now() - t0 < 10_000, 'the shell did not wait for its tools');
    });
  }
});
