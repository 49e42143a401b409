// What a backup script needs to know about a database, validated before any
// script text exists: a value that fails here never reaches a shell.
import { engineSpec, isEngine } from '../engines';
import {
  type Database,
  type Engine,
  type DatabaseMode,
  DEFAULT_PORTS,
  containerName,
  databaseName,
  hostName,
  passwordProblem,
  port,
  remoteDir,
  remoteFile,
  serverName,
  userName,
} from '../model';
import { BackupError } from './errors';
import { check } from './serverCheck';

export interface BackupServer {
  name: string;
  backupDir: string;
  /** A stored row that fails its schema (see `Server.problem`): refused. */
  problem?: string;
}

export type BackupDatabase = Pick<
  Database,
  'name' | 'engine' | 'mode' | 'container' | 'dbHost' | 'dbPort' | 'dbUser' | 'dbName' | 'dbPath' | 'problem'
>;

/** Where the password comes from at run time (host mode only; container mode reads the container's env). */
export type PasswordSource =
  | { kind: 'none' }
  /** Exported at the top of the stdin script: never argv, never disk. */
  | { kind: 'inline'; password: string }
  /** A root-only file on the server that exports the engine's variable (for cron, which cannot ask VS Code). */
  | { kind: 'file'; path: string };

export interface BackupTarget {
  server: BackupServer;
  database: BackupDatabase;
  password?: PasswordSource;
}

/** A target after validation: every field is safe to single-quote into a script. */
export interface CheckedTarget {
  serverName: string;
  backupDir: string;
  name: string;
  engine: Engine;
  mode: DatabaseMode;
  container: string;
  host: string;
  port: number;
  user: string;
  /** Its name on the database server, or undefined: the whole server (Redis) / the container's default. */
  dbName?: string;
  /** The database file (engines whose database is a file), else ''. */
  path: string;
  password: PasswordSource;
}

export function checkTarget(t: BackupTarget): CheckedTarget {
  for (const problem of [t.server.problem, t.database.problem])
    if (problem) throw new BackupError('invalid-input', problem);
  const sName = check(serverName, t.server.name, 'Server name');
  const dir = check(remoteDir, t.server.backupDir, 'Backup directory');
  const d = t.database;
  const name = check(databaseName, d.name, 'Database name');
  if (!isEngine(d.engine)) {
    throw new BackupError('invalid-input', `Unknown engine "${String(d.engine)}"`);
  }
  const password = t.password ?? { kind: 'none' };
  if (password.kind === 'inline') {
    const problem = passwordProblem(password.password, 'The database password');
    if (problem) throw new BackupError('invalid-input', `${problem} (Remove Database, then add it again)`);
  }
  if (password.kind === 'file') check(remoteDir, password.path, 'Credentials file');
  const spec = engineSpec(d.engine);
  // What every mode shares; each mode sets what it uses.
  const base = {
    serverName: sName,
    backupDir: dir,
    name,
    engine: d.engine,
    container: '',
    host: '',
    port: 0,
    user: '',
    path: '',
    password: { kind: 'none' } as PasswordSource,
  };
  if (spec.location === 'file') {
    if (d.mode !== 'host')
      throw new BackupError('invalid-input', `A ${spec.label} database is a file, not a container`);
    return { ...base, mode: 'host', path: check(remoteFile, d.dbPath ?? '', 'Database file') };
  }
  if (d.mode === 'container') {
    const container = check(containerName, d.container ?? `infrakt-db-${name}`, 'Container name');
    return {
      ...base,
      mode: 'container',
      container,
      user: d.dbUser === undefined ? '' : check(userName, d.dbUser, 'Database user'),
      dbName:
        d.dbName === undefined ? undefined : check(databaseName, d.dbName, 'Database name on the server'),
    };
  }
  if (d.mode !== 'host') throw new BackupError('invalid-input', 'Mode must be container or host');
  return {
    ...base,
    mode: 'host',
    host: check(hostName, d.dbHost ?? '127.0.0.1', 'Database host'),
    port: check(port, d.dbPort ?? DEFAULT_PORTS[d.engine], 'Database port'),
    user:
      d.dbUser === undefined || d.dbUser === ''
        ? spec.defaultUser
        : check(userName, d.dbUser, 'Database user'),
    dbName: spec.namedDatabases
      ? check(databaseName, d.dbName ?? name, 'Database name on the server')
      : undefined,
    password,
  };
}
