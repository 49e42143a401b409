// The one place shell text is generated. A remote script is
//
//   { <preamble: variable assignments>  <modules: function definitions>  <one call> }
//
// The modules are real shell files (sh/*.sh, and each engine's own), bundled as
// text; they define functions and constants only. Everything that varies from
// run to run — paths, names, ports, the database password — reaches the shell
// as a variable assigned here, quoted by `shellQuote`, and nowhere else. The
// whole script is one `{ …; }` group: the shell parses it completely before
// running any of it, so a command that reads stdin cannot swallow the rest, and
// a channel that closes mid-script cannot leave it half run.
import { PROTOCOL_VARS } from './protocol';

/** A shell module: the text of one .sh file. */
export interface ShellModule {
  readonly name: string;
  readonly text: string;
}

/** A list reaches the shell as one variable, one item per line (read with `while IFS= read -r`). */
export type ShellValue = string | number | boolean | readonly string[];

/** A value with the name of the field it came from (for the error when it cannot be quoted). */
export interface ShellVar {
  value: ShellValue | undefined;
  field?: string;
  /** Exported to the tools the script runs (database password variables, AWS_*). */
  export?: boolean;
}

export type ShellVars = Record<string, ShellValue | ShellVar | undefined>;

export class ShellValueError extends Error {
  override readonly name = 'ShellValueError';
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Single-quotes a value for POSIX shells; the result is one word whatever the value holds. */
export function shellQuote(value: string, field = 'A value'): string {
  if (value.includes('\0'))
    throw new ShellValueError(`${field} contains a NUL byte, which no shell can hold — remove it`);
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function text(v: ShellValue | undefined, field: string): string {
  if (v === undefined) return "''";
  if (Array.isArray(v)) {
    for (const item of v) {
      if (item === '' || /[\n\r]/.test(item))
        throw new ShellValueError(`${field} has an empty item or one with a line break — remove it`);
    }
    return shellQuote(v.join('\n'), field);
  }
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v !== 'number' && typeof v !== 'string') throw new ShellValueError(`${field} is not a value`);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new ShellValueError(`${field} must be a finite number`);
    return String(v);
  }
  return shellQuote(v, field);
}

/** The variable assignments that open a script (the protocol's constants first). */
export function preamble(vars: ShellVars): string[] {
  const lines: string[] = [];
  const exported: string[] = [];
  for (const [name, raw] of Object.entries({ ...PROTOCOL_VARS, ...vars })) {
    if (!NAME_RE.test(name)) throw new ShellValueError(`"${name}" is not a shell variable name`);
    const v: ShellVar =
      typeof raw === 'object' && raw !== null && !Array.isArray(raw)
        ? (raw as ShellVar)
        : { value: raw as ShellValue | undefined };
    lines.push(`${name}=${text(v.value, v.field ?? name)}`);
    if (v.export) exported.push(name);
  }
  if (exported.length) lines.push(`export ${exported.join(' ')}`);
  return lines;
}

export interface ScriptParts {
  vars: ShellVars;
  modules: readonly ShellModule[];
  /** The function to run (defined by one of the modules). */
  call: string;
  /** Comment lines put before the group (the installed cron file's header); no values. */
  header?: readonly string[];
}

/** Builds a script: preamble, the modules (each once, in order), the call — one group. */
export function remoteScript(p: ScriptParts): string {
  if (!NAME_RE.test(p.call)) throw new ShellValueError(`"${p.call}" is not a function name`);
  const seen = new Set<string>();
  const modules = p.modules.filter((m) => !seen.has(m.name) && seen.add(m.name));
  definedOnce(modules);
  const body = [...preamble(p.vars), ...modules.map((m) => m.text.trimEnd()), p.call];
  for (const h of p.header ?? []) {
    if (!h.startsWith('#') || h.includes('\n')) throw new ShellValueError('header lines must be comments');
  }
  return [...(p.header ?? []), '{', ...body, '}', ''].join('\n');
}

const DEFINITION_RE = /^([A-Za-z_][A-Za-z0-9_]*)\(\)\s*\{/gm;

/**
 * A function the modules of one script define twice is a bug whatever the
 * order: the later definition silently replaces the earlier for every caller.
 */
function definedOnce(modules: readonly ShellModule[]): void {
  const where = new Map<string, string>();
  for (const m of modules) {
    for (const [, fn] of m.text.matchAll(DEFINITION_RE)) {
      const first = where.get(fn);
      if (first !== undefined)
        throw new Error(`shell function ${fn} is defined twice in one script: in ${first} and in ${m.name}`);
      where.set(fn, m.name);
    }
  }
}

/**
 * Several whole scripts as one (one SSH round trip): each runs in its own
 * subshell (its traps and exits stay its own); the first that fails stops the
 * rest with its exit status and says which step it was.
 */
export function sequenceScripts(parts: readonly { what: string; script: string }[]): string {
  const lines = ['{', 'set -u'];
  for (const { what, script } of parts) {
    lines.push(
      ...preamble({ infrakt_part_what: { value: what, field: 'Step name' } }),
      '(',
      script.trimEnd(),
      ')',
      'infrakt_part_rc=$?',
      '[ "$infrakt_part_rc" = 0 ] || { printf \'infrakt: %s failed\\n\' "$infrakt_part_what" >&2; exit "$infrakt_part_rc"; }',
    );
  }
  lines.push('}', '');
  return lines.join('\n');
}
