// Shell text helpers shared by every backup script builder. Scripts are sent on
// stdin to `bash -s` (or busybox `ash -s` on Alpine), so they must use only
// what both shells have: no arrays, no process substitution, no `[[ ]]`.

export { shellQuote } from '../remote/script';
export { MARKS } from '../remote/protocol';

/**
 * Wraps script lines in one `{ ...; }` group. The shell parses a group whole
 * before it runs any of it, so a command that reads stdin cannot swallow the
 * rest of the script, and a channel that closes mid-run cannot leave half a
 * script executed with the tail (the rename, the cleanup) silently missing.
 */
export function wholeScript(lines: readonly string[]): string {
  return ['{', ...lines.map((l) => (l === '' ? l : `  ${l}`)), '}', ''].join('\n');
}
