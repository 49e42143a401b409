// Runs the backup scripts through any transport that can run a script on a
// server (the SSH pool in the product; local bash in some tests) and turns
// their output into results or typed errors. One script run per user action.
import { z } from 'zod';
import type { Engine, Server } from '../model';
import { type RemoteRunner, type RunOptions, type RunResult, lineSplitter } from '../remote/runner';
import { type BackupScriptOptions, backupScript } from './backupScript';
import { type Discovery, discoverScript, parseDiscovery } from './discover';
import { BackupError, EXIT, errorFromOutcome } from './errors';
import { deleteScript, listScript, parseListing, type ServerListing } from './listScript';
import { type RestoreOptions, restoreScript } from './restoreScript';
import { MARKS, markValues, parseResultLine } from '../remote/protocol';
import { type RetentionOutcome, parseRetention } from './retention';
import { type SizeEstimate, parseEstimate } from './progress';
import type { BackupServer, BackupTarget } from './target';

export type { RunOptions, RunResult };
export { lineSplitter };

/** A runner bound to one server: what these operations need from a transport. */
export interface ScriptRunner {
  run(script: string, opts?: RunOptions): Promise<RunResult>;
}

/** Binds the UI's RemoteRunner (core/remote/runner.ts; the SSH pool in the product) to one server. */
export function forServer(remote: RemoteRunner, server: Server): ScriptRunner {
  return { run: (script, opts) => remote.run(server, script, opts) };
}

const backupResult = z.object({
  file: z.string(),
  dir: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  compression: z.enum(['zstd', 'pigz', 'gzip', 'none']),
  sinks: z.record(z.string(), z.number().int()),
});
export type BackupResult = z.infer<typeof backupResult> & {
  /** Ids of extra sinks that failed (exit code ≠ 0); the local backup is complete anyway. */
  failedSinks: string[];
  /** What retention did after the commit (when the options had a policy). */
  retention?: RetentionOutcome;
};

function secretsOf(target: BackupTarget): string[] {
  return target.password?.kind === 'inline' && target.password.password ? [target.password.password] : [];
}

export interface BackUpNowOptions extends BackupScriptOptions {
  signal?: AbortSignal;
  /**
   * Compressed bytes written so far, about once a second; `read` is the dump's
   * bytes the compressor has taken in, when the server can tell (Linux /proc).
   */
  onProgress?(bytes: number, detail: { read?: number }): void;
  /** How large the backup is expected to be, before the dump starts (when anything says). */
  onEstimate?(estimate: SizeEstimate): void;
  onStderr?(chunk: string): void;
}

/**
 * Back Up Now. Resolves with the committed file (even when an extra sink
 * failed: see `failedSinks`); rejects with a BackupError otherwise.
 */
export async function backUpNow(
  runner: ScriptRunner,
  target: BackupTarget,
  opts: BackUpNowOptions = {},
): Promise<BackupResult> {
  const script = backupScript(target, opts);
  const onLine = lineSplitter((line) => {
    if (line.startsWith(`${MARKS.progress} `)) {
      const [bytes, read] = line
        .slice(MARKS.progress.length + 1)
        .split(' ')
        .map((v) => (/^\d+$/.test(v) ? Number(v) : NaN));
      if (Number.isFinite(bytes))
        opts.onProgress?.(bytes, { read: Number.isFinite(read) ? read : undefined });
    } else if (line.startsWith(`${MARKS.estimate} `)) {
      const estimate = parseEstimate(line.slice(MARKS.estimate.length + 1));
      if (estimate) opts.onEstimate?.(estimate);
    }
  });
  const r = await runner.run(script, {
    signal: opts.signal,
    onStdout: onLine,
    onStderr: opts.onStderr,
    secrets: secretsOf(target),
  });
  const ctx = {
    serverName: target.server.name,
    action: `Backup of ${target.database.name}`,
    aborted: opts.signal?.aborted,
  };
  if (r.code === EXIT.ok || r.code === EXIT.sinkFailed) {
    const parsed = parseResultLine(r.stdout, backupResult);
    if (parsed) {
      const failedSinks = Object.entries(parsed.sinks)
        .filter(([, code]) => code !== 0)
        .map(([id]) => id);
      return { ...parsed, failedSinks, retention: parseRetention(r.stdout) };
    }
    throw new BackupError(
      'unexpected',
      `Backup of ${target.database.name} on ${target.server.name} printed no result`,
      {
        exitCode: r.code,
        stderr: r.stderr.slice(-400),
      },
    );
  }
  throw errorFromOutcome(r, ctx);
}

export async function listBackups(
  runner: ScriptRunner,
  server: BackupServer,
  databases: readonly { name: string; engine: Engine }[],
  signal?: AbortSignal,
): Promise<ServerListing> {
  const r = await runner.run(listScript(server), { signal });
  if (r.code !== 0)
    throw errorFromOutcome(r, {
      serverName: server.name,
      action: 'Listing backups',
      aborted: signal?.aborted,
    });
  return parseListing(r.stdout, server.name, databases);
}

export interface RestoreResult {
  restored: string;
  /** False only when allowUnverified let a file without a checksum through. */
  verified: boolean;
  /** How the data went in: the restore tool (pg_restore…), or Redis's 'replicate' | 'systemd' | 'container'. */
  method?: string;
}

export async function restoreBackup(
  runner: ScriptRunner,
  target: BackupTarget,
  filename: string,
  opts: RestoreOptions & {
    signal?: AbortSignal;
    onStderr?(chunk: string): void;
    /** A streamed restore's input (source `stream`): the FIFO to fill, once it exists. */
    onStreamIn?(fifo: string): void;
  } = {},
): Promise<RestoreResult> {
  const script = restoreScript(target, filename, opts);
  const streamIn = `${MARKS.streamIn} `;
  const r = await runner.run(script, {
    signal: opts.signal,
    onStderr: opts.onStderr,
    onStdout: lineSplitter((line) => {
      if (line.startsWith(streamIn)) opts.onStreamIn?.(line.slice(streamIn.length));
    }),
    // The recovery keys are secrets like a password: redacted from everything the run returns.
    secrets: [...secretsOf(target), ...(opts.identities ?? [])],
  });
  const ctx = {
    serverName: target.server.name,
    action: `Restore of ${target.database.name}`,
    filename,
    aborted: opts.signal?.aborted,
  };
  if (r.code !== 0) throw errorFromOutcome(r, ctx);
  const parsed = parseResultLine(r.stdout, z.object({ restored: z.string() }));
  if (!parsed)
    throw new BackupError('unexpected', `Restore of ${filename} printed no result`, {
      stderr: r.stderr.slice(-400),
    });
  // How the data went in, from the engine's step marks: "restore <tool>", "swap <how>", "replicate <port>".
  const steps = markValues(r.stdout, MARKS.step).map((v) => v.split(' '));
  const how = steps.find(([kind]) => kind === 'restore' || kind === 'swap' || kind === 'replicate');
  return {
    restored: parsed.restored,
    verified: steps.some(([kind]) => kind === 'verified'),
    method: how ? (how[0] === 'replicate' ? 'replicate' : how.slice(1).join(' ')) : undefined,
  };
}

/**
 * A restore whose bytes another server sends (source `stream`): once the
 * target's restore has made its input FIFO, `relay` fills it (the SSH pool's
 * relay: from the source server through this computer). When the relay fails,
 * the restore is stopped (it has not committed: its input never ended) and the
 * relay's error is the one thrown.
 */
export async function restoreRelayed(
  runner: ScriptRunner,
  target: BackupTarget,
  filename: string,
  relay: (fifo: string, signal: AbortSignal) => Promise<number>,
  opts: RestoreOptions & { signal?: AbortSignal; onStderr?(chunk: string): void },
): Promise<RestoreResult & { relayed: number }> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let relayed: Promise<number> | undefined;
  let relayError: unknown;
  let ended = false; // the restore ended: the relay's own failure is no longer the cause
  try {
    const result = await restoreBackup(runner, target, filename, {
      ...opts,
      signal: stop.signal,
      onStreamIn: (fifo) => {
        relayed ??= relay(fifo, stop.signal).catch((e: unknown) => {
          if (!ended) relayError ??= e;
          stop.abort();
          return -1;
        });
      },
    }).catch(async (e: unknown) => {
      ended = true;
      stop.abort();
      await relayed;
      if (relayError !== undefined && !opts.signal?.aborted) throw relayError;
      throw e;
    });
    ended = true;
    const n = relayed ? await relayed : -1;
    if (relayError !== undefined) throw relayError;
    return { ...result, relayed: n };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

export async function deleteBackup(
  runner: ScriptRunner,
  server: BackupServer,
  filename: string,
  signal?: AbortSignal,
): Promise<{ deleted: string; existed: boolean }> {
  const r = await runner.run(deleteScript(server, filename), { signal });
  if (r.code !== 0)
    throw errorFromOutcome(r, { serverName: server.name, action: `Deleting ${filename}`, filename });
  const parsed = parseResultLine(r.stdout, z.object({ deleted: z.string(), existed: z.boolean() }));
  if (!parsed) throw new BackupError('unexpected', `Deleting ${filename} printed no result`);
  return parsed;
}

export async function discoverDatabases(
  runner: ScriptRunner,
  serverName: string,
  signal?: AbortSignal,
): Promise<Discovery> {
  const r = await runner.run(discoverScript(), { signal });
  if (r.code !== 0) throw errorFromOutcome(r, { serverName, action: 'Discovering databases' });
  return parseDiscovery(r.stdout);
}
