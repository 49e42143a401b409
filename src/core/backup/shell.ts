// Shell text helpers shared by every backup script builder. Scripts are sent on
// stdin to `bash -s` (or busybox `ash -s` on Alpine), so they must use only
// what both shells have: no arrays, no process substitution, no `[[ ]]`.

/** Single-quotes a value for POSIX shells; the result is one word whatever the value holds. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a shell value cannot contain a NUL byte');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Prefix of every machine-readable line a script prints on stdout. */
export const MARK = '@@infrakt:';

export const MARKS = {
  progress: `${MARK}progress`,
  result: `${MARK}result`,
  missing: `${MARK}missing`,
  failed: `${MARK}failed`,
  file: `${MARK}file`,
  nodir: `${MARK}nodir`,
  container: `${MARK}container`,
  tool: `${MARK}tool`,
  listen: `${MARK}listen`,
  docker: `${MARK}docker`,
  step: `${MARK}restore-step`,
  nospace: `${MARK}nospace`,
} as const;

/**
 * Wraps script lines in one `{ ...; }` group. The shell parses a group whole
 * before it runs any of it, so a command that reads stdin cannot swallow the
 * rest of the script, and a channel that closes mid-run cannot leave half a
 * script executed with the tail (the rename, the cleanup) silently missing.
 */
export function wholeScript(lines: readonly string[]): string {
  return ['{', ...lines.map((l) => (l === '' ? l : `  ${l}`)), '}', ''].join('\n');
}
