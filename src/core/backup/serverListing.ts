// The tree's view of a server: every backup of every database, local and in
// S3. The local part is one script run per server (the backup module's
// listing; scheduled runs' status rides along). The S3 part is shared: every
// server's backups live under the same `<prefix><db>/` keys, so one awscli
// listing of the whole prefix per refresh, run on ONE server that has awscli
// and reaches the endpoint, serves all of them (awscli costs seconds to start;
// thirty servers each running their own listing was most of a refresh). An S3
// failure is reported beside a listing that still shows the local files.
import { type Verification, parseVerifications } from './verification';
import { engineSpec } from '../engines';
import type { Database, Engine, Server } from '../model';
import { listVars, parseListing, type ServerListing } from './listScript';
import { backupPrefix, parseBackupName } from './naming';
import { SH } from '../remote/modules';
import { MARKS } from '../remote/protocol';
import { type ShellVars, remoteScript } from '../remote/script';
import type { RunResult } from '../remote/runner';
import { type BackupEntry, type S3Object, mergeBackupLocations, s3DatabasePrefix } from '../s3/layout';
import { type S3Credentials, listS3PrefixesScript, s3ListingError, splitS3Prefixes } from '../s3/scripts';

/** At most this many servers' local listings run at once (the shared S3 listing runs beside them). */
export const REFRESH_CONCURRENCY = 4;

export type ListedDatabase = Pick<Database, 'name' | 'engine'>;

export interface ServerBackups {
  /** Per database name, newest first. */
  byDatabase: Map<string, BackupEntry[]>;
  /** No backup was ever taken on this server (its backup dir does not exist yet). */
  noBackupDir: boolean;
  /** The local listing failed (e.g. the backup dir is not readable). */
  localError?: string;
  /** 'off': no S3 settings; otherwise ok, or what went wrong listing S3. */
  s3: { state: 'off' } | { state: 'ok' } | { state: 'error'; message: string };
  /** The client tools the listing looked for (awscli first), and whether each is on the server's PATH. */
  tools?: ServerTool[];
}

/** A client tool as the listing found it: `name` is its alternatives (`mysqldump|mariadb-dump`). */
export interface ServerTool {
  name: string;
  found: boolean;
}

export interface ListingOptions {
  /** The schedules' status records, scripts and crontab entries ride along (parseScheduleStatus). */
  schedules?: boolean;
  /** Client tools to look for (each `a|b`: alternatives), e.g. listingTools() of the server's databases. */
  tools?: readonly string[];
}

/** The client tools the host-mode databases need to be backed up and restored (Provision Server installs them). */
export function listingTools(databases: readonly Pick<Database, 'engine' | 'mode'>[]): string[] {
  const tools = new Set<string>();
  for (const d of databases.filter((x) => x.mode === 'host')) {
    const spec = engineSpec(d.engine).tools;
    for (const t of [...spec.dump, ...spec.restore]) tools.add(t);
  }
  return [...tools];
}

/**
 * The tree's per-server round trip (remote/sh/list.sh `infrakt_listing`):
 * local files, whether awscli is on the PATH (so the shared S3 listing is not
 * tried where it cannot run), and the schedules when asked. No S3 call: that
 * is the shared listing's (S3ListingShare).
 */
export function localListingScript(
  server: Pick<Server, 'name' | 'backupDir'>,
  opts: ListingOptions = {},
): string {
  const vars: ShellVars = {
    ...listVars(server),
    infrakt_listing_schedules: opts.schedules === true,
    infrakt_listing_tools: [...(opts.tools ?? [])],
  };
  return remoteScript({ vars, modules: [SH.list], call: 'infrakt_listing' });
}

export interface LocalPart {
  local: ServerListing;
  noBackupDir: boolean;
  localError?: string;
  /** Whether awscli is on the server's PATH; undefined when the script did not say. */
  awscli?: boolean;
  /** Each tool of ListingOptions.tools the script answered for. */
  tools: ServerTool[];
  /** The verification records beside the backups, by file name. */
  verifications: Map<string, Verification>;
}

function markLine(stdout: string, mark: string): string | undefined {
  // indexOf, not split: the output holds a line per file.
  let at = stdout.indexOf(`${mark} `);
  while (at > 0 && stdout[at - 1] !== '\n') at = stdout.indexOf(`${mark} `, at + 1);
  if (at < 0) return undefined;
  const end = stdout.indexOf('\n', at);
  return stdout.slice(at + mark.length + 1, end < 0 ? undefined : end);
}

/** The local half of a server listing (localListingScript output). */
export function parseLocalPart(
  stdout: string,
  stderr: string,
  server: Pick<Server, 'name'>,
  databases: readonly ListedDatabase[],
): LocalPart {
  const local = parseListing(stdout, server.name, databases);
  const rc = markLine(stdout, MARKS.localRc);
  const localRc = rc === undefined ? NaN : Number(rc);
  const localError =
    localRc === 0
      ? undefined
      : `listing the backup dir failed${Number.isNaN(localRc) ? '' : ` (exit ${localRc})`}: ${
          stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300) || 'no output'
        }`;
  const aws = markLine(stdout, MARKS.awscli);
  const tools: ServerTool[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${MARKS.listTool} `)) continue;
    const [found, name] = line.slice(MARKS.listTool.length + 1).split(' ');
    if (name && (found === 'yes' || found === 'no')) tools.push({ name, found: found === 'yes' });
  }
  return {
    local,
    noBackupDir: local.noBackupDir,
    localError,
    awscli: aws === 'yes' ? true : aws === 'no' ? false : undefined,
    tools,
    verifications: parseVerifications(stdout),
  };
}

/**
 * S3 objects (backups and their `.sha256` objects) indexed by database folder
 * and backup-name prefix, so each server's share is one lookup: building it is
 * linear in the listing, whatever the number of servers.
 */
export class S3Index {
  private readonly groups = new Map<string, S3Object[]>();
  private count = 0;

  /** How many objects were indexed (other servers' included). */
  get size(): number {
    return this.count;
  }

  private static groupKey(db: string, namePrefix: string): string {
    return `${db}/${namePrefix}`;
  }

  /** Adds an object listed under `<s3Prefix><db>/<filename>`; anything else is not a backup and is skipped. */
  add(o: S3Object, db: string): void {
    const base = o.filename.endsWith('.sha256') ? o.filename.slice(0, -'.sha256'.length) : o.filename;
    const parsed = parseBackupName(base);
    if (!parsed) return;
    const key = S3Index.groupKey(db, `${parsed.prefix}_${parsed.engine}_`);
    const group = this.groups.get(key);
    if (group) group.push(o);
    else this.groups.set(key, [o]);
    this.count++;
  }

  /** One server's objects of one database (the S3 prefix is per database name; servers share it). */
  objects(serverName: string, db: string, engine: Engine): readonly S3Object[] {
    return this.groups.get(S3Index.groupKey(db, backupPrefix(serverName, db, engine))) ?? [];
  }

  /**
   * Adds a listS3PrefixesScript document: a JSON array of `[key, size,
   * lastModified]`, or `null`/nothing for an empty prefix. Throws on anything else.
   */
  addListing(json: string, s3Prefix: string): void {
    const text = json.trim();
    if (text === '' || text === 'null') return;
    const rows: unknown = JSON.parse(text);
    if (!Array.isArray(rows)) throw new Error('expected a JSON array of objects');
    for (const row of rows as unknown[]) {
      if (
        !Array.isArray(row) ||
        typeof row[0] !== 'string' ||
        typeof row[1] !== 'number' ||
        typeof row[2] !== 'string'
      )
        throw new Error(`unexpected entry ${JSON.stringify(row).slice(0, 100)}`);
      const key = row[0];
      if (!key.startsWith(s3Prefix)) continue;
      const rest = key.slice(s3Prefix.length);
      const slash = rest.indexOf('/');
      // <db>/<filename>: exactly one level below the prefix.
      if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) >= 0) continue;
      this.add(
        { key, filename: rest.slice(slash + 1), sizeBytes: row[1], modified: new Date(row[2]) },
        rest.slice(0, slash),
      );
    }
  }
}

/** What one server sees of S3 in a listing. */
export type S3View = { state: 'ok'; index: S3Index } | { state: 'error'; message: string };

/** Merges a server's local files with its S3 objects into one list per database, newest first. */
export function mergeServerBackups(
  part: LocalPart,
  server: Pick<Server, 'name'>,
  databases: readonly ListedDatabase[],
  s3?: S3View,
): ServerBackups {
  const byDatabase = new Map<string, BackupEntry[]>();
  for (const d of databases) {
    const mine = s3?.state === 'ok' ? s3.index.objects(server.name, d.name, d.engine) : [];
    const merged = mergeBackupLocations(part.local.byDatabase.get(d.name) ?? [], mine);
    byDatabase.set(
      d.name,
      merged.map((e) => {
        const verification = part.verifications.get(e.filename);
        return verification ? { ...e, verification } : e;
      }),
    );
  }
  const s3State: ServerBackups['s3'] = !s3
    ? { state: 'off' }
    : s3.state === 'ok'
      ? { state: 'ok' }
      : { state: 'error', message: s3.message };
  const tools = [...(part.awscli === undefined ? [] : [{ name: 'aws', found: part.awscli }]), ...part.tools];
  return { byDatabase, noBackupDir: part.noBackupDir, localError: part.localError, s3: s3State, tools };
}

// ----- the shared S3 listing --------------------------------------------------

export interface S3Lister {
  id: string;
  name: string;
}

export type S3Outcome =
  | {
      ok: true;
      index: S3Index;
      /** The server that listed. */
      lister: S3Lister;
      ms: number;
    }
  | {
      ok: false;
      /** The last error: what a server that was not asked itself is told. */
      message: string;
      /** Each server asked (or skipped as unable), with its own error. */
      byServer: ReadonlyMap<string, string>;
    };

/** The view of an outcome for one server: its own error when it was the one that failed. */
export function s3ViewFor(outcome: S3Outcome, server: Pick<S3Lister, 'id'>): S3View {
  return outcome.ok
    ? { state: 'ok', index: outcome.index }
    : { state: 'error', message: outcome.byServer.get(server.id) ?? outcome.message };
}

const NO_AWSCLI = 'awscli (aws) not found on this server';

/**
 * Errors that belong to the server that ran awscli, not to the bucket: another
 * server may do better. (A wrong key, a missing bucket, a refusal would be the
 * same from every server: asking them all would only take longer.)
 */
const SERVER_SPECIFIC =
  /awscli \(aws\) not found|aws: (command )?not found|Could not connect to the endpoint URL|Connection refused|Connect timeout|timed out|Name or service not known|Could not resolve|getaddrinfo|nodename nor servname|SSL|certificate/i;

/** `prefixes` of the whole listing: the backup prefix itself. For one server: each of its databases' name prefix. */
export function serverS3Prefixes(
  s3Prefix: string,
  serverName: string,
  databases: readonly ListedDatabase[],
): string[] {
  return databases.map(
    (d) => `${s3DatabasePrefix(s3Prefix, d.name)}${backupPrefix(serverName, d.name, d.engine)}`,
  );
}

export interface S3ShareOptions<S extends S3Lister> {
  creds: S3Credentials;
  /** Key prefixes to list: `[creds.settings.prefix]` (everything) or serverS3Prefixes(). */
  prefixes: readonly string[];
  /** Runs a script on a server (the pool); throws when the server cannot be reached. */
  run: (server: S, script: string) => Promise<RunResult>;
  /** Asked first, in this order, before the servers that request the listing (e.g. the last server that listed). */
  preferred?: readonly S[];
  signal?: AbortSignal;
}

/**
 * One S3 listing shared by the servers of one refresh. The first request
 * starts it on a server (the preferred ones first, then the requesting ones
 * in order); when that server cannot run it — no awscli, unreachable over
 * SSH, cannot reach the endpoint — the next one is asked; when the error is
 * the bucket's (a wrong key, no such bucket), nobody else is. A server whose
 * own listing said it has no awscli, or that could not be reached, is not
 * asked at all. When every server failed on its own, a server that requests
 * the listing later (expanded later in the tree) is still tried.
 */
export class S3ListingShare<S extends S3Lister> {
  private readonly candidates: S[] = [];
  private readonly failed = new Map<string, string>();
  private readonly awscli = new Map<string, boolean>();
  private readonly unreachable = new Map<string, string>();
  private readonly script: string;
  private running?: Promise<S3Outcome>;
  private settled?: { outcome: S3Outcome; final: boolean };
  private lastError = 'no server could list S3';
  private runs = 0;

  constructor(private readonly opts: S3ShareOptions<S>) {
    this.script = listS3PrefixesScript(opts.creds, opts.prefixes);
    for (const s of opts.preferred ?? []) this.addCandidate(s);
  }

  /** How many times a server ran the listing script (tests and the bench count them). */
  get attempts(): number {
    return this.runs;
  }

  private addCandidate(server: S): void {
    if (!this.candidates.some((c) => c.id === server.id)) this.candidates.push(server);
  }

  /** What a server's own listing said: awscli on its PATH or not, or that it could not be reached. */
  hint(serverId: string, hint: { awscli?: boolean; unreachable?: string }): void {
    if (hint.awscli !== undefined) this.awscli.set(serverId, hint.awscli);
    if (hint.unreachable !== undefined) this.unreachable.set(serverId, hint.unreachable);
  }

  /** The outcome once the listing has settled (undefined while it runs or before it started). */
  get outcome(): S3Outcome | undefined {
    return this.running ? undefined : this.settled?.outcome;
  }

  /** The listing for a server of this refresh: started on the first call, shared by all. Never rejects. */
  request(server: S): Promise<S3Outcome> {
    this.addCandidate(server);
    // Asked again once the run ends: a run that had already given up (its last
    // candidate failed) before this server joined must not answer for it.
    if (this.running) return this.running.then(() => this.request(server));
    const s = this.settled;
    if (s && (s.final || this.failed.has(server.id))) return Promise.resolve(s.outcome);
    this.running = this.attempt().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** The next server to ask: those known to have awscli first; those known unable are skipped. */
  private next(): S | undefined {
    let unknown: S | undefined;
    for (const c of this.candidates) {
      if (this.failed.has(c.id)) continue;
      const why = this.unreachable.get(c.id) ?? (this.awscli.get(c.id) === false ? NO_AWSCLI : undefined);
      if (why) {
        this.failed.set(c.id, why);
        this.lastError = why;
        continue;
      }
      if (this.awscli.get(c.id)) return c;
      unknown ??= c;
    }
    return unknown;
  }

  private async attempt(): Promise<S3Outcome> {
    for (;;) {
      if (this.opts.signal?.aborted) return this.settle(false, 'the listing was cancelled');
      const server = this.next();
      if (!server) return this.settle(false);
      const t0 = Date.now();
      const r = await this.tryOn(server);
      if (r.ok) {
        const outcome: S3Outcome = { ok: true, index: r.index, lister: server, ms: Date.now() - t0 };
        this.settled = { outcome, final: true };
        return outcome;
      }
      this.failed.set(server.id, r.message);
      this.lastError = r.message;
      if (!r.serverSpecific) return this.settle(true);
    }
  }

  private settle(final: boolean, message = this.lastError): S3Outcome {
    const outcome: S3Outcome = { ok: false, message, byServer: new Map(this.failed) };
    this.settled = { outcome, final };
    return outcome;
  }

  private async tryOn(
    server: S,
  ): Promise<{ ok: true; index: S3Index } | { ok: false; message: string; serverSpecific: boolean }> {
    this.runs++;
    let r: RunResult;
    try {
      r = await this.opts.run(server, this.script);
    } catch (err) {
      return { ok: false, message: err instanceof Error ? err.message : String(err), serverSpecific: true };
    }
    const marked = s3ListingError(r.stdout);
    if (r.code === 127 && !marked) return { ok: false, message: NO_AWSCLI, serverSpecific: true };
    if (marked || r.code !== 0) {
      const message =
        marked ||
        `S3 listing failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}`;
      return { ok: false, message, serverSpecific: SERVER_SPECIFIC.test(message) };
    }
    const docs = splitS3Prefixes(r.stdout);
    const index = new S3Index();
    for (let i = 0; i < this.opts.prefixes.length; i++) {
      const json = docs.get(i);
      if (json === undefined)
        return { ok: false, message: 'the S3 listing output was cut short', serverSpecific: true };
      try {
        index.addListing(json, this.opts.creds.settings.prefix);
      } catch (e) {
        return {
          ok: false,
          message: `unreadable S3 listing: ${(e as Error).message}`,
          serverSpecific: false,
        };
      }
    }
    return { ok: true, index };
  }
}

/** A server's listing as the tree takes it: the local round trip, merged with the shared S3 listing. */
export async function listServerBackups<S extends S3Lister & Pick<Server, 'name' | 'backupDir'>>(
  server: S,
  databases: readonly ListedDatabase[],
  /** Runs the local listing script on the server (bounded, logged by the caller); throws when unreachable. */
  runLocal: (script: string) => Promise<RunResult>,
  s3?: S3ListingShare<S>,
  opts: ListingOptions = {},
): Promise<{ listing: ServerBackups; stdout: string }> {
  // Started before the local round trip, so the two overlap.
  const shared = s3 && databases.length ? s3.request(server) : undefined;
  let r: RunResult;
  try {
    r = await runLocal(localListingScript(server, opts));
  } catch (err) {
    s3?.hint(server.id, { unreachable: err instanceof Error ? err.message : String(err) });
    throw err;
  }
  if (r.code !== 0) throw new Error(`listing failed (exit ${r.code}): ${r.stderr.trim().slice(-300)}`);
  const part = parseLocalPart(r.stdout, r.stderr, server, databases);
  s3?.hint(server.id, { awscli: part.awscli });
  const view = shared ? s3ViewFor(await shared, server) : undefined;
  return { listing: mergeServerBackups(part, server, databases, view), stdout: r.stdout };
}
