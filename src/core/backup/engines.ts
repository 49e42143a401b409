// Restore commands per engine (dumps are the engines' shell modules, in
// core/engines): how each engine is restored from stdin, in host mode (tools
// on the server, password from an env variable exported at the top of the
// script) and in container mode (`docker exec` into the container,
// credentials read there from the container's own env). Every fragment is a
// single command so its pid is the tool's pid. To be moved into the engines'
// shell modules with the restore script.
import { ENGINE_SPECS, type Engine } from '../engines';
import { shellQuote as q } from './shell';
import type { CheckedTarget } from './target';

/** Env variable each engine's client reads its password from (mongodb: read by our config fifo). */
export const PASSWORD_ENV = Object.fromEntries(ENGINE_SPECS.map((e) => [e.id, e.passwordEnv])) as Record<
  Engine,
  string
>;

/** Shell lines that set `$<var>` to the first tool found, or report it missing (exit 70). */
export function resolveTool(variable: string, alternatives: string, where = ''): string[] {
  const names = alternatives.split('|');
  const lines = [`${variable}=''`];
  for (const n of [...names].reverse()) {
    lines.push(`if command -v ${n} >/dev/null 2>&1; then ${variable}=${n}; fi`);
  }
  lines.push(`[ -n "$${variable}" ] || infrakt_missing ${q(names.join(' or ') + where)}`);
  return lines;
}

function hostConn(t: CheckedTarget): string {
  switch (t.engine) {
    case 'postgres':
      return `-h ${q(t.host)} -p ${t.port} -U ${q(t.user)}`;
    case 'mysql':
      return `-h ${q(t.host)} -P ${t.port} -u ${q(t.user)}`;
    case 'redis':
      return `-h ${q(t.host)} -p ${t.port}${t.user ? ` --user ${q(t.user)}` : ''}`;
    case 'mongodb':
      return `--host ${q(t.host)} --port ${t.port}${
        t.user
          ? ` --username ${q(t.user)} --authenticationDatabase admin --config "$infrakt_work/mongo.yaml"`
          : ''
      }`;
  }
}

/**
 * mongodump/mongorestore take a password only in argv or a YAML --config file.
 * We hand them a fifo: the secret goes from the environment through a pipe and
 * never lands on disk or in `ps`.
 */
export function mongoConfigFifoLines(envExpr: string): string[] {
  return [
    'mkfifo "$infrakt_work/mongo.yaml"',
    `( printf "password: '%s'\\n" "$(printf '%s' "${envExpr}" | sed "s/'/''/g")" > "$infrakt_work/mongo.yaml" ) &`,
    'infrakt_pids="$infrakt_pids $!"',
  ];
}

// ----- container mode: inner scripts run by `sh -c` inside the container ------

function containerMissing(tool: string): string {
  // Exit 70 is reported by the outer script as "<tool> not found in container <c>".
  return `command -v ${tool} >/dev/null 2>&1 || { echo "infrakt: ${tool} not found in the container" >&2; exit 70; }`;
}

const PG_CONTAINER_ENV = 'export PGPASSWORD="${POSTGRES_PASSWORD:-}"';

function pgContainerTarget(t: CheckedTarget): string {
  const user = t.user ? q(t.user) : '"${POSTGRES_USER:-postgres}"';
  const db = t.dbName ? q(t.dbName) : '"${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"';
  return `-U ${user} -d ${db}`;
}

const MYSQL_CONTAINER_CREDS = [
  'if [ -n "${MYSQL_USER:-${MARIADB_USER:-}}" ]; then u="${MYSQL_USER:-${MARIADB_USER:-}}"; MYSQL_PWD="${MYSQL_PASSWORD:-${MARIADB_PASSWORD:-}}";',
  'else u=root; MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}"; fi',
  'export MYSQL_PWD',
];

function mysqlContainerDb(t: CheckedTarget): string[] {
  return [
    `db=${t.dbName ? q(t.dbName) : '"${MYSQL_DATABASE:-${MARIADB_DATABASE:-}}"'}`,
    '[ -n "$db" ] || { echo "infrakt: no database name: set it on the database or MYSQL_DATABASE in the container" >&2; exit 71; }',
  ];
}

function pickInContainer(variable: string, names: string[]): string {
  const conds = names.map(
    (n, i) => `${i === 0 ? 'if' : 'elif'} command -v ${n} >/dev/null 2>&1; then ${variable}=${n};`,
  );
  return `${conds.join(' ')} else echo "infrakt: ${names.join(' or ')} not found in the container" >&2; exit 70; fi`;
}

const MONGO_CONTAINER_AUTH = [
  'set --',
  'if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then',
  '  d=$(mktemp -d) && mkfifo "$d/c" || exit 71',
  `  ( printf "password: '%s'\\n" "$(printf '%s' "\${MONGO_INITDB_ROOT_PASSWORD:-}" | sed "s/'/''/g")" > "$d/c" ) & w=$!`,
  '  set -- --username "$MONGO_INITDB_ROOT_USERNAME" --authenticationDatabase admin --config "$d/c"',
  'fi',
];

const MONGO_CONTAINER_END = [
  'rc=$?',
  'if [ -n "${w:-}" ]; then kill "$w" 2>/dev/null; fi',
  'if [ -n "${d:-}" ]; then rm -rf "$d"; fi',
  'exit $rc',
];

function innerRestore(t: CheckedTarget, plainSql: boolean): string[] {
  switch (t.engine) {
    case 'postgres':
      return plainSql
        ? [
            containerMissing('psql'),
            PG_CONTAINER_ENV,
            `exec psql -X -q -v ON_ERROR_STOP=1 --single-transaction ${pgContainerTarget(t)}`,
          ]
        : [
            containerMissing('pg_restore'),
            PG_CONTAINER_ENV,
            `exec pg_restore --clean --if-exists --no-owner --single-transaction ${pgContainerTarget(t)}`,
          ];
    case 'mysql':
      return [
        pickInContainer('client', ['mariadb', 'mysql']),
        ...MYSQL_CONTAINER_CREDS,
        ...mysqlContainerDb(t),
        'exec "$client" -u "$u" "$db"',
      ];
    case 'redis':
      throw new Error('Redis restores swap the RDB file; see restoreScript');
    case 'mongodb':
      return [
        containerMissing('mongorestore'),
        ...MONGO_CONTAINER_AUTH,
        'mongorestore "$@" --drop --archive --gzip',
        ...MONGO_CONTAINER_END,
      ];
  }
}

/** `docker exec` running an inner script; the inner text is one single-quoted argv word with no secret in it. */
export function dockerExec(container: string, inner: readonly string[], interactive: boolean): string {
  return `docker exec${interactive ? ' -i' : ''} ${q(container)} sh -c ${q(inner.join('\n'))}`;
}

/** One command reading the decompressed dump on stdin and loading it. Not for Redis. */
export interface RestoreCommand {
  setup: string[];
  prestart: string[];
  command: string;
  tool: string;
}

export function restoreCommand(t: CheckedTarget, plainSql: boolean): RestoreCommand {
  if (t.mode === 'container') {
    return {
      setup: resolveTool('infrakt_docker', 'docker'),
      prestart: [],
      command: dockerExec(t.container, innerRestore(t, plainSql), true),
      tool: `restore in container ${t.container}`,
    };
  }
  const db = q(t.dbName ?? t.name);
  switch (t.engine) {
    case 'postgres':
      return plainSql
        ? {
            setup: resolveTool('infrakt_restore', 'psql'),
            prestart: [],
            command: `psql -X -q -v ON_ERROR_STOP=1 --single-transaction ${hostConn(t)} -d ${db}`,
            tool: 'psql',
          }
        : {
            setup: resolveTool('infrakt_restore', 'pg_restore'),
            prestart: [],
            command: `pg_restore --clean --if-exists --no-owner --single-transaction ${hostConn(t)} -d ${db}`,
            tool: 'pg_restore',
          };
    case 'mysql':
      return {
        setup: resolveTool('infrakt_restore', 'mariadb|mysql'),
        prestart: [],
        command: `"$infrakt_restore" ${hostConn(t)} ${db}`,
        tool: 'mysql',
      };
    case 'redis':
      throw new Error('Redis restores swap the RDB file; see restoreScript');
    case 'mongodb':
      return {
        setup: resolveTool('infrakt_restore', 'mongorestore'),
        prestart: t.user ? mongoConfigFifoLines(`\${${PASSWORD_ENV.mongodb}:-}`) : [],
        command: `mongorestore ${hostConn(t)} --drop --archive --gzip`,
        tool: 'mongorestore',
      };
  }
}

/** The env preamble: the only place a password appears in any script. */
export function passwordPreamble(t: CheckedTarget): string[] {
  const p = t.password;
  if (t.mode === 'container' || p.kind === 'none') return [];
  if (p.kind === 'file') return [`. ${q(p.path)}`];
  if (p.password === '') return [];
  return [`${PASSWORD_ENV[t.engine]}=${q(p.password)}`, `export ${PASSWORD_ENV[t.engine]}`];
}
