// What the UI needs from the SSH layer: run one script on a server. The
// product's implementation is the pooled ssh2 transport (src/ssh); tests may
// use any runner with the same shape.
import type { Server } from '../model';

export interface RunOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Values that must never appear in logs or errors (they are redacted). */
  secrets?: readonly string[];
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RemoteRunner {
  run(server: Server, script: string, options?: RunOptions): Promise<RunResult>;
  /** Drops any open connection of this server (after it was edited or removed). */
  forget?(serverId: string): void;
  /** Copies a file from the server (SFTP in the product); resolves with its size. */
  download?(
    server: Server,
    remotePath: string,
    localPath: string,
    opts?: { signal?: AbortSignal; onProgress?(transferred: number, total: number): void },
  ): Promise<number>;
  /**
   * Copies a backup file from one server into a restore's input FIFO on
   * another, through this computer (two SSH channels, no file here); resolves
   * with the bytes copied.
   */
  relay?(
    from: Server,
    fromPath: string,
    to: Server,
    toFifo: string,
    opts?: { signal?: AbortSignal; onProgress?(copied: number): void },
  ): Promise<number>;
}

/** Shorter than this, a value is not redacted: it would mangle ordinary text. */
const MIN_SECRET = 4;

/**
 * The forms a secret can take in a run's output: as it is, shell-quoted (how
 * `set -x` prints it), JSON-escaped, and — for a secret with line breaks — each
 * of its lines (output is often read line by line). Longest first, so a
 * secret inside a longer one never leaves part of the longer one behind.
 */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET) continue;
    forms.add(s);
    forms.add(s.replace(/'/g, `'\\''`));
    forms.add(JSON.stringify(s).slice(1, -1));
    for (const line of s.split(/\r?\n|\r/)) if (line.length >= MIN_SECRET) forms.add(line);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/** Replaces every secret (in each of its forms) with *** before text is logged, shown or stored. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const form of secretForms(secrets)) out = out.split(form).join('***');
  return out;
}

/**
 * Runs with everything that leaves the run redacted: the output callbacks get
 * whole redacted lines (the last unfinished one when the run ends), the result's
 * stdout and stderr are redacted, and so is a thrown error's message. The one
 * place a run's output is redacted; the UI's runner goes through it.
 */
export async function runRedacted(
  opts: RunOptions,
  run: (opts: RunOptions) => Promise<RunResult>,
): Promise<RunResult> {
  const secrets = opts.secrets ?? [];
  const lines = (deliver?: (chunk: string) => void) => {
    let tail = '';
    return {
      feed: deliver
        ? (chunk: string) => {
            const parts = (tail + chunk).split('\n');
            tail = parts.pop() ?? '';
            for (const p of parts) deliver(`${redact(p, secrets)}\n`);
          }
        : undefined,
      flush: () => {
        if (deliver && tail) deliver(redact(tail, secrets));
        tail = '';
      },
    };
  };
  const out = lines(opts.onStdout);
  const err = lines(opts.onStderr);
  try {
    const r = await run({ ...opts, onStdout: out.feed, onStderr: err.feed });
    return { ...r, stdout: redact(r.stdout, secrets), stderr: redact(r.stderr, secrets) };
  } catch (e) {
    if (e instanceof Error) e.message = redact(e.message, secrets);
    throw e;
  } finally {
    out.flush();
    err.flush();
  }
}

/** Splits a stream into whole lines, keeping the unfinished tail for the next chunk. */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let tail = '';
  return (chunk: string) => {
    const parts = (tail + chunk).split('\n');
    tail = parts.pop() ?? '';
    for (const p of parts) onLine(p);
  };
}
