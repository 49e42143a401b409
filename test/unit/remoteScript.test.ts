// The one place shell text is generated: the preamble of variable assignments.
// Every value comes back from the shell exactly as it went in, whatever it
// holds; a value no shell can hold is refused with its field's name.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { EXIT, MARKS, PROTOCOL_VARS, SINK_STATUS } from '../../src/core/remote/protocol';
import { ShellValueError, preamble, remoteScript } from '../../src/core/remote/script';
import { SH } from '../../src/core/remote/modules';
import { ENGINE_SPECS } from '../../src/core/engines';

const have = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
const shells = [['bash'], ['dash'], ['busybox', 'ash']].filter((s) => have(s[0]));

const HOSTILE = [
  `it's`,
  '"double" $HOME `id` $(id) ${x}',
  'new\nline',
  '-leading-dash',
  '../../etc/passwd',
  'x'.repeat(240),
  'ünïcødé ✓',
  '; rm -rf / &',
  "'",
  '',
];

describe('remote scripts: the preamble', () => {
  for (const shell of shells) {
    it(`${shell.join(' ')}: hostile values are read back verbatim, and none runs`, () => {
      const vars = Object.fromEntries(HOSTILE.map((v, i) => [`v${i}`, v]));
      const script = remoteScript({
        vars,
        modules: [
          {
            name: 'echo',
            text: `show() {\n  for n in ${HOSTILE.map((_, i) => `"$v${i}"`).join(' ')}; do printf '%s\\0' "$n"; done\n}`,
          },
        ],
        call: 'show',
      });
      const r = spawnSync(shell[0], [...shell.slice(1), '-s'], { input: script, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.split('\0').slice(0, -1), HOSTILE);
    });
  }

  it('refuses a NUL byte with the name of the field it came from', () => {
    assert.throws(
      () => preamble({ infrakt_db_user: { value: 'a\0b', field: 'Database user' } }),
      (e: unknown) => e instanceof ShellValueError && /^Database user contains a NUL byte/.test(e.message),
    );
  });

  it('refuses modules that define one function twice, naming both (the later would replace the earlier)', () => {
    const a = { name: 'a', text: 'f() {\n  :\n}\ng() { :; }' };
    const b = { name: 'b', text: '# g() { is not a definition here\ng() {\n  echo b\n}' };
    assert.throws(
      () => remoteScript({ vars: {}, modules: [a, b], call: 'f' }),
      /shell function g is defined twice in one script: in a and in b/,
    );
    assert.doesNotThrow(
      () => remoteScript({ vars: {}, modules: [a, a], call: 'f' }),
      'one module listed twice is loaded once',
    );
  });

  for (const spec of ENGINE_SPECS) {
    it(`the whole shell library with the ${spec.id} module defines each function once`, () => {
      assert.doesNotThrow(() =>
        remoteScript({ vars: {}, modules: [...Object.values(SH), spec.shell], call: 'true' }),
      );
    });
  }

  it('refuses a variable name, a function name or a header that could carry code', () => {
    assert.throws(() => preamble({ 'x;id': 'a' }), ShellValueError);
    assert.throws(() => remoteScript({ vars: {}, modules: [], call: 'f; id' }), ShellValueError);
    assert.throws(
      () => remoteScript({ vars: {}, modules: [], call: 'f', header: ['# a\nid'] }),
      ShellValueError,
    );
  });

  it('exports only what is marked for export; booleans are 1/0; numbers must be finite', () => {
    const lines = preamble({ A: { value: 'x', export: true }, b: true, c: false, d: 3 });
    assert.deepEqual(lines.slice(-5), ["A='x'", 'b=1', 'c=0', 'd=3', 'export A']);
    assert.throws(() => preamble({ d: Number.NaN }), ShellValueError);
  });

  it('every script carries the protocol: one mark and one exit-code variable per name, codes distinct', () => {
    const lines = preamble({});
    assert.ok(lines.includes(`infrakt_mark_result='${MARKS.result}'`));
    assert.ok(lines.includes(`infrakt_exit_sink_failed=${EXIT.sinkFailed}`));
    const codes = Object.values(EXIT);
    assert.equal(new Set(codes).size, codes.length, 'one number, one meaning');
    assert.equal(
      Object.keys(PROTOCOL_VARS).length,
      Object.keys(MARKS).length + codes.length + Object.keys(SINK_STATUS).length,
    );
    assert.ok(lines.includes(`infrakt_sink_stalled=${SINK_STATUS.stalled}`));
  });
});
