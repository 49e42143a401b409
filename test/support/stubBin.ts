// Runs the remote shell modules on this machine with only the tools a test
// chooses on PATH: a bin directory of links to a few real tools and of stub
// scripts, so what is "installed" is the test's choice, not the machine's.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findOnPath } from '../../src/core/backup/localRestore';

/** The path of a program on this machine's PATH ('' when it has none; shell builtins do not count). */
export const toolPath = (tool: string): string => findOnPath(tool);

/** bash, dash and busybox ash — those installed here — as [label, absolute argv reading a script on stdin]. */
export const SHELLS: [string, string[]][] = (
  [
    ['bash', ['bash', '-s']],
    ['dash', ['dash', '-s']],
    ['busybox ash', ['busybox', 'ash', '-s']],
  ] as [string, string[]][]
)
  .map(([label, [cmd, ...args]]): [string, string[]] => [label, [toolPath(cmd), ...args]])
  .filter(([, [cmd]]) => cmd !== '');

/**
 * Fills `dir` with links to the named real tools and with stubs (`#!/bin/sh`
 * scripts: name → body); returns `dir`.
 */
export function makeBin(
  dir: string,
  o: { real?: readonly string[]; stubs?: Readonly<Record<string, string>> },
): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const tool of o.real ?? []) {
    const p = toolPath(tool);
    if (!p) throw new Error(`${tool} is not installed on this machine`);
    fs.symlinkSync(p, path.join(dir, tool));
  }
  for (const [name, body] of Object.entries(o.stubs ?? {})) {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}

export interface ShellRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a script with one of SHELLS's argv, in exactly the environment given (PATH included). */
export function runShell(argv: readonly string[], script: string, env: NodeJS.ProcessEnv): ShellRun {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd, args, { input: script, env, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
