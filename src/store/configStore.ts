// The config store: one SQLite file (sql.js) shared by every VS Code window.
// Every write runs under a file lock, re-reads the file if another window
// changed it, applies the change in a transaction and replaces the file
// atomically — so two windows never overwrite each other's work.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import initSqlJs, { type Database as SqlDatabase, type SqlJsStatic, type SqlValue } from 'sql.js';
import {
  type BackupRecord,
  type Database,
  type DatabaseInput,
  type KnownHost,
  type RetentionPolicy,
  type S3Settings,
  type S3SettingsFields,
  type Schedule,
  type ScheduleInput,
  type Server,
  type ServerInput,
  databaseInput,
  firstIssue,
  retentionPolicy,
  scheduleInput,
  serverInput,
} from '../core/model';
import { writeFileAtomic, type AtomicWriteHooks } from './atomicFile';
import { withFileLock } from './fileLock';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { missingColumns } from './schemaCheck';
import { keepsAll } from '../core/backup/retention';
import { checkRecipient, recipientProblem } from '../core/backup/encryption';
import { type AlertDestination, alertDestination } from '../core/alerts/destinations';
import { type Row, toBackup, toDatabase, toKnownHost, toRetention, toS3, toSchedule, toServer } from './rows';

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface StoreOptions {
  /** Path of sql-wasm.wasm (dist/ in the extension, node_modules in tests). */
  wasmPath: string;
  /** Test seam for crash simulation. */
  writeHooks?: AtomicWriteHooks;
  lockTimeoutMs?: number;
}

export interface OpenResult {
  store: ConfigStore;
  /** Set when the existing file could not be read and was moved aside. */
  movedAside?: { path: string; reason: string };
}

type Listener = () => void;

const sqlJsByWasm = new Map<string, Promise<SqlJsStatic>>();
function loadSqlJs(wasmPath: string): Promise<SqlJsStatic> {
  let p = sqlJsByWasm.get(wasmPath);
  if (!p) {
    p = initSqlJs({ locateFile: () => wasmPath });
    sqlJsByWasm.set(wasmPath, p);
  }
  return p;
}

function stampOf(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

const now = () => new Date().toISOString();

export class ConfigStore {
  private db: SqlDatabase;
  private stamp: string;
  private readonly listeners = new Set<Listener>();
  private watching = false;

  private constructor(
    private readonly sql: SqlJsStatic,
    readonly file: string,
    private readonly opts: StoreOptions,
    db: SqlDatabase,
    stamp: string,
  ) {
    this.db = db;
    this.stamp = stamp;
  }

  static async open(file: string, opts: StoreOptions): Promise<OpenResult> {
    const sql = await loadSqlJs(opts.wasmPath);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    let movedAside: OpenResult['movedAside'];
    const lock = `${file}.lock`;
    const store = withFileLock(
      lock,
      () => {
        const stamp = stampOf(file);
        const loaded = ConfigStore.readFile(sql, file);
        // A file that cannot be brought to this schema (a table it should not
        // have yet, or tables missing at its version) is as unusable as a corrupt one.
        const prepared = loaded.kind === 'ok' ? ConfigStore.prepare(sql, loaded.db) : loaded;
        let db: SqlDatabase;
        let migrated: boolean;
        if (prepared.kind === 'corrupt') {
          if (loaded.kind === 'ok') loaded.db.close();
          const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
          fs.renameSync(file, aside);
          movedAside = { path: aside, reason: prepared.reason };
          db = new sql.Database();
          migrated = ConfigStore.migrate(db);
        } else {
          db = prepared.db;
          migrated = prepared.migrated;
        }
        const s = new ConfigStore(sql, file, opts, db, stamp);
        if (migrated || movedAside) s.persist();
        return s;
      },
      { timeoutMs: opts.lockTimeoutMs },
    );
    return { store, movedAside };
  }

  private static readFile(
    sql: SqlJsStatic,
    file: string,
  ): { kind: 'ok'; db: SqlDatabase } | { kind: 'corrupt'; reason: string } {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'ok', db: new sql.Database() };
      throw err;
    }
    if (bytes.length === 0) return { kind: 'corrupt', reason: 'the file is empty' };
    let db: SqlDatabase | undefined;
    try {
      db = new sql.Database(bytes);
      const check = db.exec('PRAGMA quick_check');
      const verdict = String(check[0]?.values[0]?.[0] ?? '');
      if (verdict !== 'ok') throw new Error(verdict || 'integrity check failed');
      const version = Number(db.exec('PRAGMA user_version')[0]?.values[0]?.[0] ?? 0);
      if (version > SCHEMA_VERSION) {
        db.close();
        throw new StoreError(
          `The infrakt store at ${file} was written by a newer version of the extension (schema ${version}, this one knows ${SCHEMA_VERSION}). Update the extension; the file was left untouched.`,
        );
      }
      return { kind: 'ok', db };
    } catch (err) {
      if (err instanceof StoreError) throw err;
      db?.close();
      return { kind: 'corrupt', reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Migrates a loaded file and checks it has every table and column of this schema. */
  private static prepare(
    sql: SqlJsStatic,
    db: SqlDatabase,
  ): { kind: 'ok'; db: SqlDatabase; migrated: boolean } | { kind: 'corrupt'; reason: string } {
    let migrated: boolean;
    try {
      migrated = ConfigStore.migrate(db);
    } catch (err) {
      return {
        kind: 'corrupt',
        reason: `its tables do not match its schema version, so it cannot be updated (${err instanceof Error ? err.message : String(err)})`,
      };
    }
    const missing = missingColumns(sql, db);
    if (missing.length > 0)
      return {
        kind: 'corrupt',
        reason: `it lacks ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? '…' : ''}`,
      };
    return { kind: 'ok', db, migrated };
  }

  private static migrate(db: SqlDatabase): boolean {
    db.run('PRAGMA foreign_keys = ON');
    const version = Number(db.exec('PRAGMA user_version')[0]?.values[0]?.[0] ?? 0);
    if (version >= SCHEMA_VERSION) return false;
    for (let v = version; v < SCHEMA_VERSION; v++) {
      db.run('BEGIN');
      try {
        db.run(MIGRATIONS[v]);
        db.run(`PRAGMA user_version = ${v + 1}`);
        db.run('COMMIT');
      } catch (err) {
        db.run('ROLLBACK');
        throw err;
      }
    }
    return true;
  }

  // ---- plumbing -----------------------------------------------------------

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private emit(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Polls the file so changes made by other windows reach this one's UI. */
  watch(intervalMs = 1000): void {
    if (this.watching) return;
    this.watching = true;
    fs.watchFile(this.file, { interval: intervalMs }, () => {
      if (this.reloadIfChanged()) this.emit();
    });
  }

  dispose(): void {
    if (this.watching) fs.unwatchFile(this.file);
    this.watching = false;
    this.listeners.clear();
    this.db.close();
  }

  /** Re-reads the file when another process replaced it. Returns true if it did. */
  private reloadIfChanged(): boolean {
    const stamp = stampOf(this.file);
    if (stamp === this.stamp) return false;
    if (stamp === 'missing') return false; // deleted under us: keep what we have; the next write recreates it
    const loaded = ConfigStore.readFile(this.sql, this.file);
    const prepared = loaded.kind === 'ok' ? ConfigStore.prepare(this.sql, loaded.db) : loaded;
    if (prepared.kind === 'corrupt') {
      // Never replace good memory with a bad file.
      if (loaded.kind === 'ok') loaded.db.close();
      return false;
    }
    this.db.close();
    this.db = prepared.db;
    this.stamp = stamp;
    return true;
  }

  private persist(): void {
    writeFileAtomic(this.file, this.db.export(), this.opts.writeHooks);
    // export() resets connection pragmas in sql.js; restore them.
    this.db.run('PRAGMA foreign_keys = ON');
    this.stamp = stampOf(this.file);
  }

  private read<T>(fn: (db: SqlDatabase) => T): T {
    this.reloadIfChanged();
    return fn(this.db);
  }

  private write<T>(fn: (db: SqlDatabase) => T): T {
    const result = withFileLock(
      `${this.file}.lock`,
      () => {
        this.reloadIfChanged();
        this.db.run('BEGIN');
        let r: T;
        try {
          r = fn(this.db);
          this.db.run('COMMIT');
        } catch (err) {
          this.db.run('ROLLBACK');
          throw err;
        }
        try {
          this.persist();
        } catch (err) {
          // The file on disk is still the previous version; make memory match it.
          this.stamp = 'unknown';
          this.reloadIfChanged();
          throw err;
        }
        return r;
      },
      { timeoutMs: this.opts.lockTimeoutMs },
    );
    this.emit();
    return result;
  }

  private static all(db: SqlDatabase, sqlText: string, params: SqlValue[] = []): Row[] {
    const stmt = db.prepare(sqlText);
    try {
      stmt.bind(params);
      const rows: Row[] = [];
      while (stmt.step()) rows.push(stmt.getAsObject() as Row);
      return rows;
    } finally {
      stmt.free();
    }
  }

  // ---- servers ------------------------------------------------------------

  listServers(): Server[] {
    return this.read((db) =>
      ConfigStore.all(db, 'SELECT * FROM servers ORDER BY name COLLATE NOCASE').map(toServer),
    );
  }

  getServer(id: string): Server | undefined {
    return this.read(
      (db) => ConfigStore.all(db, 'SELECT * FROM servers WHERE id = ?', [id]).map(toServer)[0],
    );
  }

  /** `id`: the one a connection check before saving used (its secrets are kept under it). */
  addServer(input: ServerInput, id: string = randomUUID()): Server {
    const s = parseOrThrow(serverInput, input);
    return this.write((db) => {
      assertUniqueServerName(db, s.name);
      const t = now();
      db.run(
        `INSERT INTO servers (id, name, host, port, user, auth, key_path, backup_dir, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, s.name, s.host, s.port, s.user, s.auth, s.keyPath ?? null, s.backupDir, t, t],
      );
      return toServer(ConfigStore.all(db, 'SELECT * FROM servers WHERE id = ?', [id])[0]);
    });
  }

  updateServer(id: string, input: ServerInput): Server {
    const s = parseOrThrow(serverInput, input);
    return this.write((db) => {
      if (ConfigStore.all(db, 'SELECT id FROM servers WHERE id = ?', [id]).length === 0) {
        throw new StoreError(`Server not found (it may have been removed in another window).`);
      }
      assertUniqueServerName(db, s.name, id);
      db.run(
        `UPDATE servers SET name = ?, host = ?, port = ?, user = ?, auth = ?, key_path = ?, backup_dir = ?, updated_at = ?
         WHERE id = ?`,
        [s.name, s.host, s.port, s.user, s.auth, s.keyPath ?? null, s.backupDir, now(), id],
      );
      return toServer(ConfigStore.all(db, 'SELECT * FROM servers WHERE id = ?', [id])[0]);
    });
  }

  /**
   * Records a Provision Server run that ended with no failed step: now, and the awscli it found
   * (unset when its version could not be read). Returns undefined when the server was removed
   * meanwhile (in another window): the server was provisioned, there is just nothing to record.
   */
  recordProvisioned(id: string, result: { awsCliVersion?: string }): Server | undefined {
    return this.write((db) => {
      db.run('UPDATE servers SET provisioned_at = ?, aws_cli_version = ? WHERE id = ?', [
        now(),
        result.awsCliVersion ?? null,
        id,
      ]);
      return ConfigStore.all(db, 'SELECT * FROM servers WHERE id = ?', [id]).map(toServer)[0];
    });
  }

  /** Removes the server and its databases; returns the removed database ids (their secrets go too). */
  removeServer(id: string): { databaseIds: string[] } {
    return this.write((db) => {
      const databaseIds = ConfigStore.all(db, 'SELECT id FROM databases WHERE server_id = ?', [id]).map((r) =>
        String(r.id),
      );
      db.run('DELETE FROM schedules WHERE database_id IN (SELECT id FROM databases WHERE server_id = ?)', [
        id,
      ]);
      db.run('DELETE FROM databases WHERE server_id = ?', [id]);
      db.run('DELETE FROM servers WHERE id = ?', [id]);
      return { databaseIds };
    });
  }

  // ---- databases ----------------------------------------------------------

  listDatabases(serverId?: string): Database[] {
    return this.read((db) =>
      (serverId
        ? ConfigStore.all(db, 'SELECT * FROM databases WHERE server_id = ? ORDER BY name COLLATE NOCASE', [
            serverId,
          ])
        : ConfigStore.all(db, 'SELECT * FROM databases ORDER BY name COLLATE NOCASE')
      ).map(toDatabase),
    );
  }

  getDatabase(id: string): Database | undefined {
    return this.read(
      (db) => ConfigStore.all(db, 'SELECT * FROM databases WHERE id = ?', [id]).map(toDatabase)[0],
    );
  }

  addDatabase(input: DatabaseInput): Database {
    const d = parseOrThrow(databaseInput, input);
    return this.write((db) => {
      if (ConfigStore.all(db, 'SELECT id FROM servers WHERE id = ?', [d.serverId]).length === 0) {
        throw new StoreError('That server no longer exists (it may have been removed in another window).');
      }
      if (
        ConfigStore.all(db, 'SELECT id FROM databases WHERE server_id = ? AND name = ?', [d.serverId, d.name])
          .length
      ) {
        throw new StoreError(
          `A database named "${d.name}" already exists on this server; choose another name.`,
        );
      }
      const id = randomUUID();
      // A new database starts with the default policy (Set Retention… → Use for New Databases).
      const def = ConfigStore.all(db, 'SELECT * FROM retention_default WHERE id = 1')[0];
      db.run(
        `INSERT INTO databases (id, server_id, name, engine, mode, container, db_host, db_port, db_user, db_name, db_path, created_at, retention_local, retention_s3)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          d.serverId,
          d.name,
          d.engine,
          d.mode,
          d.container ?? null,
          d.dbHost ?? null,
          d.dbPort ?? null,
          d.dbUser ?? null,
          d.dbName ?? null,
          d.dbPath ?? null,
          now(),
          (def?.retention_local as string | null | undefined) ?? null,
          (def?.retention_s3 as string | null | undefined) ?? null,
        ],
      );
      return toDatabase(ConfigStore.all(db, 'SELECT * FROM databases WHERE id = ?', [id])[0]);
    });
  }

  removeDatabase(id: string): void {
    this.write((db) => {
      db.run('DELETE FROM schedules WHERE database_id = ?', [id]);
      db.run('DELETE FROM databases WHERE id = ?', [id]);
    });
  }

  // ---- schedules (what was installed on the server, per database) ----------

  getSchedule(databaseId: string): Schedule | undefined {
    return this.read(
      (db) =>
        ConfigStore.all(db, 'SELECT * FROM schedules WHERE database_id = ?', [databaseId]).map(toSchedule)[0],
    );
  }

  listSchedules(): Schedule[] {
    return this.read((db) => ConfigStore.all(db, 'SELECT * FROM schedules').map(toSchedule));
  }

  saveSchedule(databaseId: string, input: ScheduleInput): Schedule {
    const sc = parseOrThrow(scheduleInput, input);
    return this.write((db) => {
      if (ConfigStore.all(db, 'SELECT id FROM databases WHERE id = ?', [databaseId]).length === 0)
        throw new StoreError('That database no longer exists (it may have been removed in another window).');
      const t = now();
      db.run(
        `INSERT INTO schedules (database_id, cron, verify, installed_at, updated_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (database_id) DO UPDATE SET cron = excluded.cron, verify = excluded.verify, updated_at = excluded.updated_at`,
        [databaseId, sc.cron, sc.verify, t, t],
      );
      return toSchedule(
        ConfigStore.all(db, 'SELECT * FROM schedules WHERE database_id = ?', [databaseId])[0],
      );
    });
  }

  /** Sets a database's retention policy (validated); returns the database as stored. */
  setRetention(databaseId: string, policy: RetentionPolicy): Database {
    const p = parseOrThrow(retentionPolicy, policy);
    return this.write((db) => {
      if (ConfigStore.all(db, 'SELECT id FROM databases WHERE id = ?', [databaseId]).length === 0)
        throw new StoreError('That database no longer exists (it may have been removed in another window).');
      db.run('UPDATE databases SET retention_local = ?, retention_s3 = ? WHERE id = ?', [
        keepsAll(p.local) ? null : JSON.stringify(p.local),
        keepsAll(p.s3) ? null : JSON.stringify(p.s3),
        databaseId,
      ]);
      return toDatabase(ConfigStore.all(db, 'SELECT * FROM databases WHERE id = ?', [databaseId])[0]);
    });
  }

  /** The recipient new backups are encrypted to; undefined: encryption is off. */
  getEncryption(): { recipient: string; own: boolean } | undefined {
    return this.read((db) => {
      const row = ConfigStore.all(db, 'SELECT * FROM encryption WHERE id = 1')[0];
      if (!row || recipientProblem(String(row.recipient))) return undefined;
      return { recipient: String(row.recipient), own: row.own === 1 };
    });
  }

  /** Turns encryption on with this recipient (validated), or off (undefined). */
  setEncryption(e: { recipient: string; own: boolean } | undefined): void {
    const recipient = e ? checkRecipient(e.recipient) : undefined;
    this.write((db) => {
      db.run('DELETE FROM encryption');
      if (recipient)
        db.run('INSERT INTO encryption (id, recipient, own, updated_at) VALUES (1, ?, ?, ?)', [
          recipient,
          e?.own ? 1 : 0,
          now(),
        ]);
    });
  }

  /** The alert destinations (without their URLs and tokens), in the user's order; unreadable rows are skipped. */
  listAlertDestinations(): AlertDestination[] {
    return this.read((db) =>
      ConfigStore.all(db, 'SELECT * FROM alert_destinations ORDER BY position, created_at').flatMap((row) => {
        const r = alertDestination.safeParse({
          id: row.id,
          name: row.name,
          kind: row.kind,
          when: row.send_when,
        });
        return r.success ? [r.data] : [];
      }),
    );
  }

  /** Adds a destination, or updates the one with its id; names are unique. */
  saveAlertDestination(input: AlertDestination): AlertDestination {
    const d = parseOrThrow(alertDestination, input);
    return this.write((db) => {
      const clash = ConfigStore.all(db, 'SELECT id FROM alert_destinations WHERE name = ? AND id <> ?', [
        d.name,
        d.id,
      ]);
      if (clash.length)
        throw new StoreError(`An alert destination named "${d.name}" already exists — choose another name.`);
      if (ConfigStore.all(db, 'SELECT id FROM alert_destinations WHERE id = ?', [d.id]).length)
        db.run('UPDATE alert_destinations SET name = ?, kind = ?, send_when = ? WHERE id = ?', [
          d.name,
          d.kind,
          d.when,
          d.id,
        ]);
      else {
        const pos = ConfigStore.all(
          db,
          'SELECT COALESCE(MAX(position), 0) + 1 AS p FROM alert_destinations',
        )[0];
        db.run(
          'INSERT INTO alert_destinations (id, name, kind, send_when, position, created_at) VALUES (?, ?, ?, ?, ?, ?)',
          [d.id, d.name, d.kind, d.when, Number(pos?.p ?? 1), now()],
        );
      }
      return d;
    });
  }

  removeAlertDestination(id: string): void {
    this.write((db) => db.run('DELETE FROM alert_destinations WHERE id = ?', [id]));
  }

  /** The policy a new database starts with ({}: keep all). */
  getDefaultRetention(): RetentionPolicy {
    return this.read((db) => {
      const row = ConfigStore.all(db, 'SELECT * FROM retention_default WHERE id = 1')[0];
      return row ? toRetention(row) : {};
    });
  }

  setDefaultRetention(policy: RetentionPolicy): RetentionPolicy {
    const p = parseOrThrow(retentionPolicy, policy);
    return this.write((db) => {
      db.run(
        'INSERT OR REPLACE INTO retention_default (id, retention_local, retention_s3) VALUES (1, ?, ?)',
        [keepsAll(p.local) ? null : JSON.stringify(p.local), keepsAll(p.s3) ? null : JSON.stringify(p.s3)],
      );
      return toRetention(ConfigStore.all(db, 'SELECT * FROM retention_default WHERE id = 1')[0]);
    });
  }

  removeSchedule(databaseId: string): void {
    this.write((db) => db.run('DELETE FROM schedules WHERE database_id = ?', [databaseId]));
  }

  // ---- S3 settings (single row, no secret) --------------------------------

  getS3Settings(): S3Settings | undefined {
    return this.read((db) => ConfigStore.all(db, 'SELECT * FROM s3_settings WHERE id = 1').map(toS3)[0]);
  }

  /** Creates or updates the single settings row. Callers validate first (core/s3Settings). */
  saveS3Settings(fields: S3SettingsFields): S3Settings {
    return this.write((db) => {
      const t = now();
      db.run(
        `INSERT INTO s3_settings (id, endpoint_url, bucket, region, access_key, prefix, provider, path_style, checksum_when_required, created_at, updated_at)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET endpoint_url = excluded.endpoint_url, bucket = excluded.bucket,
           region = excluded.region, access_key = excluded.access_key, prefix = excluded.prefix,
           provider = excluded.provider, path_style = excluded.path_style,
           checksum_when_required = excluded.checksum_when_required, updated_at = excluded.updated_at`,
        [
          fields.endpointUrl,
          fields.bucket,
          fields.region ?? '',
          fields.accessKey,
          fields.prefix ?? '',
          fields.provider ?? 'other',
          fields.pathStyle ? 1 : 0,
          fields.checksumWhenRequired ? 1 : 0,
          t,
          t,
        ],
      );
      return toS3(ConfigStore.all(db, 'SELECT * FROM s3_settings WHERE id = 1')[0]);
    });
  }

  /** Removes the settings; a no-op (not an error) when none exist. */
  removeS3Settings(): void {
    this.write((db) => db.run('DELETE FROM s3_settings'));
  }

  // ---- known host keys ----------------------------------------------------

  getKnownHost(host: string, port: number): KnownHost | undefined {
    return this.read(
      (db) =>
        ConfigStore.all(db, 'SELECT * FROM known_hosts WHERE host = ? AND port = ?', [host, port]).map(
          toKnownHost,
        )[0],
    );
  }

  trustHost(k: Omit<KnownHost, 'addedAt'>): void {
    this.write((db) =>
      db.run(
        `INSERT INTO known_hosts (host, port, key_type, fingerprint, added_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (host, port) DO UPDATE SET key_type = excluded.key_type, fingerprint = excluded.fingerprint, added_at = excluded.added_at`,
        [k.host, k.port, k.keyType, k.fingerprint, now()],
      ),
    );
  }

  forgetHost(host: string, port: number): void {
    this.write((db) => db.run('DELETE FROM known_hosts WHERE host = ? AND port = ?', [host, port]));
  }

  // ---- backup history -----------------------------------------------------

  recordBackup(r: Omit<BackupRecord, 'id' | 'createdAt'>): BackupRecord {
    return this.write((db) => {
      db.run(
        `INSERT INTO backup_history (database_id, filename, size_bytes, sha256, location, ok, error, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          r.databaseId,
          r.filename,
          r.sizeBytes,
          r.sha256 ?? null,
          r.location,
          r.ok ? 1 : 0,
          r.error ?? null,
          now(),
        ],
      );
      const id = Number(db.exec('SELECT last_insert_rowid()')[0].values[0][0]);
      return toBackup(ConfigStore.all(db, 'SELECT * FROM backup_history WHERE id = ?', [id])[0]);
    });
  }

  listBackupHistory(databaseId: string, limit = 50): BackupRecord[] {
    return this.read((db) =>
      ConfigStore.all(
        db,
        'SELECT * FROM backup_history WHERE database_id = ? ORDER BY created_at DESC, id DESC LIMIT ?',
        [databaseId, limit],
      ).map(toBackup),
    );
  }
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new StoreError(firstIssue(r.error));
  return r.data;
}

function assertUniqueServerName(db: SqlDatabase, name: string, exceptId?: string): void {
  const stmt = db.prepare('SELECT id FROM servers WHERE name = ? COLLATE NOCASE AND id IS NOT ?');
  try {
    stmt.bind([name, exceptId ?? null]);
    if (stmt.step()) throw new StoreError(`A server named "${name}" already exists; choose another name.`);
  } finally {
    stmt.free();
  }
}
