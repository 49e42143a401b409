// What the tree knows about each server's backups: one listing per server
// (local + S3 in one script run), cached until a refresh or a change, loaded
// concurrently for many servers with a bound, and never thrown at the tree —
// a failure becomes the server's error state and an error row.
import * as vscode from 'vscode';
import { type ServerBackups, parseServerListing, serverListingScript } from '../../core/backupListing';
import { limiter } from '../../core/limit';
import type { Server } from '../../core/model';
import { type ScheduleStatusListing, parseScheduleStatus, statusLines } from '../../core/scheduleScript';
import { s3Access } from '../credentials';
import { messageOf } from '../errors';
import { loggedRunner } from '../remote';
import type { Services } from '../services';

export type CatalogEntry =
  | { state: 'loading'; promise: Promise<void> }
  | { state: 'ok'; listing: ServerBackups; s3Problem?: string; schedules: ScheduleStatusListing }
  | { state: 'error'; message: string };

type Cached = CatalogEntry & { signature: string };

/** At most this many servers are listed at once. */
export const REFRESH_CONCURRENCY = 4;

export class BackupCatalog implements vscode.Disposable {
  private readonly entries = new Map<string, Cached>();
  private readonly generation = new Map<string, number>();
  private readonly limit = limiter(REFRESH_CONCURRENCY);
  private readonly changed = new vscode.EventEmitter<string>();
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

  /** The server's listing, loading it once if nothing is cached. */
  async load(server: Server): Promise<CatalogEntry> {
    let entry = this.peek(server.id);
    if (!entry) {
      const signature = this.signature(server.id);
      const gen = (this.generation.get(server.id) ?? 0) + 1;
      this.generation.set(server.id, gen);
      const promise = this.limit(() => this.fetch(server)).then((result) => {
        // A refresh while this ran makes its result stale: keep only the latest.
        if (this.generation.get(server.id) !== gen) return;
        this.entries.set(server.id, { ...result, signature });
        this.changed.fire(server.id);
      });
      entry = { state: 'loading', promise };
      this.entries.set(server.id, { ...entry, signature });
    }
    if (entry.state === 'loading') await entry.promise;
    return this.entries.get(server.id) ?? entry;
  }

  /** Forgets one server's listing (after a backup, restore, delete) or all of them (Refresh). */
  invalidate(serverId?: string): void {
    const ids = serverId ? [serverId] : [...this.entries.keys()];
    for (const id of ids) {
      this.entries.delete(id);
      this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
    }
  }

  private async fetch(server: Server): Promise<CatalogEntry> {
    const services = this.services();
    const databases = services.store.listDatabases(server.id);
    const s3 = await s3Access(services);
    const creds = s3.state === 'ready' ? s3.creds : undefined;
    try {
      const runner = loggedRunner(services, server, {
        secrets: creds ? [creds.secretKey] : [],
        timeoutMs: 60_000,
      });
      // Scheduled runs' status records ride along in the same round trip.
      const script = serverListingScript(server, databases, creds, statusLines(server.backupDir));
      const r = await vscode.window.withProgress({ location: { viewId: 'infrakt.servers' } }, () =>
        runner.run(script),
      );
      if (r.code !== 0)
        return { state: 'error', message: `listing failed (exit ${r.code}): ${r.stderr.trim().slice(-300)}` };
      const listing = parseServerListing(r.stdout, r.stderr, server, databases, creds?.settings);
      const s3Problem =
        s3.state === 'no-secret' ? s3.message : listing.s3.state === 'error' ? listing.s3.message : undefined;
      return { state: 'ok', listing, s3Problem, schedules: parseScheduleStatus(r.stdout) };
    } catch (err) {
      return { state: 'error', message: messageOf(err) };
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}
