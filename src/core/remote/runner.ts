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
}

/** Replaces every secret (and its shell-quoted form) with *** before text is logged or shown. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < 4) continue; // too short to redact without mangling ordinary text
    out = out.split(s).join('***');
  }
  return out;
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
