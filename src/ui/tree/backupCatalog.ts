// What the tree knows about each server's backups: one local listing per
// server (one round trip, schedule status included) and ONE S3 listing per
// refresh shared by every server (core/backupListing: S3ListingShare), cached
// until a refresh or a change, loaded concurrently for many servers with a
// bound, and never thrown at the tree — a failure becomes the server's error
// state and an error row.
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import {
  REFRESH_CONCURRENCY,
  S3ListingShare,
  listServerBackups,
  listingTools,
  serverS3Prefixes,
  type ServerTool,
} from '../../core/backup/serverListing';
import { limiter } from '../../core/limit';
import { type Server, usable } from '../../core/model';
import { lineSplitter, runRedacted } from '../../core/remote/runner';
import type { S3Credentials } from '../../core/s3/scripts';
import { S3SettingsService } from '../../core/s3/settingsService';
import type { S3ListingProblem } from '../../core/treeRows';
import { parseScheduleStatus } from '../../core/schedule/script';
import { s3Access } from '../credentials';
import { messageOf } from '../errors';
import { loggedRunner } from '../remote';
import type { CatalogEntry, Services } from '../services';

type Cached = CatalogEntry & { signature: string };

// Re-exported: commands bound their own fan-outs by it.
export { REFRESH_CONCURRENCY };

/** The shared S3 listing may be long (every object under the prefix, 1,000 per request). */
const S3_LISTING_TIMEOUT_MS = 180_000;

interface Share {
  /** Which settings (and secret) it was listed with: other settings need another listing. */
  key: string;
  share: S3ListingShare<Server>;
}

export class BackupCatalog implements vscode.Disposable {
  private readonly entries = new Map<string, Cached>();
  /** Each server's last finished listing, kept across refreshes (shown while the next one loads). */
  private readonly lastListed = new Map<string, Cached>();
  private readonly generation = new Map<string, number>();
  private readonly limit = limiter(REFRESH_CONCURRENCY);
  private readonly changed = new vscode.EventEmitter<string>();
  /** The refresh's S3 listing of the whole prefix, shared by every server. */
  private shared?: Share & { abort: AbortController };
  /**
   * After a change on one server (a backup, a delete), only that server's S3
   * objects are listed again — its databases' name prefixes, not the whole
   * bucket — and used for it until the next full refresh.
   */
  private readonly own = new Map<string, Share>();
  private readonly ownWanted = new Set<string>();
  /** The server that listed S3 last time: asked first next time. */
  private lastLister?: string;
  /** Fires with a server id when its listing finished (or failed). */
  readonly onDidChange = this.changed.event;

  constructor(private readonly services: () => Services) {}

  /** Which databases a listing covered: a listing taken before one was added or removed is stale. */
  private signature(serverId: string): string {
    return this.services()
      .store.listDatabases(serverId)
      .map((d) => `${d.name}:${d.engine}`)
      .sort()
      .join(',');
  }

  /** The cached listing, if it still covers the server's current databases. */
  peek(serverId: string): CatalogEntry | undefined {
    const entry = this.entries.get(serverId);
    if (entry && entry.signature !== this.signature(serverId)) {
      this.invalidate(serverId);
      return undefined;
    }
    return entry;
  }

  /**
   * The listing before the current one started loading (after a refresh or a
   * change), if it covers the server's current databases: its rows stay in the
   * tree — with their ids — until the new listing replaces them.
   */
  previous(serverId: string): CatalogEntry | undefined {
    const entry = this.lastListed.get(serverId);
    return entry && entry.signature === this.signature(serverId) ? entry : undefined;
  }

  /**
   * What the last listing found of the server's client tools. Only reads: unlike
   * peek(), it never drops a listing, so drawing the server rows cannot start one.
   */
  toolsOf(serverId: string): readonly ServerTool[] | undefined {
    const current = this.entries.get(serverId);
    // Until the next listing lands, what the last one found (the row stays as it was).
    const entry = !current || current.state === 'loading' ? this.lastListed.get(serverId) : current;
    return entry?.state === 'ok' ? entry.listing.tools : undefined;
  }

  /** The server's listing, loading it once if nothing is cached. */
  async load(server: Server): Promise<CatalogEntry> {
    let entry = this.peek(server.id);
    if (!entry) {
      const signature = this.signature(server.id);
      const gen = (this.generation.get(server.id) ?? 0) + 1;
      this.generation.set(server.id, gen);
      // Not under the limit as a whole: only the local round trip is (the
      // shared S3 listing runs beside the local listings, not in their slots).
      const promise = this.fetch(server).then((result) => {
        // A refresh while this ran makes its result stale: keep only the latest.
        if (this.generation.get(server.id) !== gen) return;
        const listed = { ...result, signature };
        const unchanged = sameListing(this.lastListed.get(server.id), listed);
        this.entries.set(server.id, listed);
        this.lastListed.set(server.id, listed);
        // The tree shows the last listing while the next one loads: the same one again changes nothing.
        if (!unchanged) this.changed.fire(server.id);
      });
      entry = { state: 'loading', promise };
      this.entries.set(server.id, { ...entry, signature });
    }
    if (entry.state === 'loading') await entry.promise;
    return this.entries.get(server.id) ?? entry;
  }

  /** Forgets one server's listing (after a backup, restore, delete) or all of them (Refresh). */
  invalidate(serverId?: string): void {
    if (serverId) {
      this.own.delete(serverId);
      this.ownWanted.add(serverId);
    } else {
      this.shared?.abort.abort();
      this.shared = undefined;
      this.own.clear();
      this.ownWanted.clear();
    }
    const ids = serverId ? [serverId] : [...this.entries.keys()];
    for (const id of ids) {
      this.entries.delete(id);
      this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
    }
  }

  /** Runs an S3 listing script on a server: stderr logged, the (large) stdout summarised. */
  private s3Runner(creds: S3Credentials, what: string, signal?: AbortSignal) {
    const services = this.services();
    const secrets = [creds.secretKey];
    return async (server: Server, script: string) => {
      const t0 = Date.now();
      services.log.debug(`[${server.name}] listing S3 (${what}) for the tree`);
      const r = await runRedacted(
        {
          signal,
          secrets,
          timeoutMs: S3_LISTING_TIMEOUT_MS,
          onStderr: lineSplitter((line) => services.log.debug(`[${server.name}] ! ${line}`)),
        },
        (redacting) => services.runner.run(server, script, redacting),
      );
      services.log.debug(
        `[${server.name}] S3 listing (${what}): exit ${r.code}, ${(r.stdout.length / 1024).toFixed(0)} KiB in ${Date.now() - t0} ms`,
      );
      return r;
    };
  }

  /** The S3 listing this server's entry uses: its own after a change on it, else the refresh's shared one. */
  private s3For(server: Server, creds: S3Credentials): S3ListingShare<Server> {
    const services = this.services();
    const s = creds.settings;
    const key = createHash('sha256')
      .update(JSON.stringify([S3SettingsService.fingerprint(s), creds.secretKey]))
      .digest('hex');
    const servers = services.store.listServers();
    const byId = (id: string | undefined) => servers.find((x) => x.id === id);
    const last = byId(this.lastLister);
    if (this.ownWanted.delete(server.id) && this.shared?.key === key) {
      // The server itself first (it has just used awscli), then whoever listed last, then the rest listed so far.
      const others = [...this.entries.keys()].map(byId).filter((x): x is Server => x !== undefined);
      const share = new S3ListingShare<Server>({
        creds,
        prefixes: serverS3Prefixes(s.prefix, server.name, usable(services.store.listDatabases(server.id))),
        run: this.s3Runner(creds, `${server.name}'s backups`),
        preferred: [server, ...(last ? [last] : []), ...others],
      });
      this.own.set(server.id, { key, share });
      return share;
    }
    const own = this.own.get(server.id);
    if (own?.key === key) return own.share;
    if (this.shared?.key !== key) {
      this.shared?.abort.abort();
      const abort = new AbortController();
      const share = new S3ListingShare<Server>({
        creds,
        prefixes: [s.prefix],
        run: this.s3Runner(creds, `s3://${s.bucket}/${s.prefix}, for every server`, abort.signal),
        preferred: last ? [last] : [],
        signal: abort.signal,
      });
      this.shared = { key, share, abort };
    }
    return this.shared.share;
  }

  private async fetch(server: Server): Promise<CatalogEntry> {
    const services = this.services();
    const databases = usable(services.store.listDatabases(server.id));
    try {
      const s3 = await s3Access(services);
      const creds = s3.state === 'ready' ? s3.creds : undefined;
      const share = creds && databases.length ? this.s3For(server, creds) : undefined;
      const runner = loggedRunner(services, server, { timeoutMs: 60_000 });
      const { listing, stdout } = await listServerBackups(
        server,
        databases,
        (script) =>
          this.limit(async () =>
            vscode.window.withProgress({ location: { viewId: 'infrakt.servers' } }, () => runner.run(script)),
          ),
        share,
        // Scheduled runs' status records and the client tools ride along in the same round trip.
        { schedules: true, tools: listingTools(databases) },
      );
      const outcome = share?.outcome;
      if (outcome?.ok) this.lastLister = outcome.lister.id;
      const s3Problem: S3ListingProblem | undefined =
        s3.state === 'no-secret' && databases.length > 0
          ? { kind: 'no-secret' }
          : listing.s3.state === 'error'
            ? { kind: 'listing', message: listing.s3.message }
            : undefined;
      if (s3Problem) {
        // What the tree's warning row points at.
        const said =
          s3Problem.kind === 'no-secret'
            ? 'the S3 secret key is not stored on this computer — enter it in S3 Settings'
            : s3Problem.message;
        services.log.warn(`[${server.name}] S3 copies not listed: ${said}`);
      }
      const missing = listing.tools?.filter((t) => !t.found).map((t) => t.name) ?? [];
      if (missing.length > 0)
        services.log.warn(
          `[${server.name}] not on the server's PATH: ${missing.join(', ')} (Provision Server installs them)`,
        );
      return { state: 'ok', listing, s3Problem, schedules: parseScheduleStatus(stdout) };
    } catch (err) {
      const message = messageOf(err);
      services.log.warn(`[${server.name}] could not list backups: ${message}`);
      return { state: 'error', message };
    }
  }

  dispose(): void {
    this.shared?.abort.abort();
    this.changed.dispose();
  }
}

/** Whether two listings show the same (Maps and Sets compared by their entries). */
function sameListing(a: Cached | undefined, b: Cached): boolean {
  const key = (x: Cached) =>
    JSON.stringify(x, (_k, v: unknown) => (v instanceof Map || v instanceof Set ? [...v] : v));
  return a !== undefined && key(a) === key(b);
}
