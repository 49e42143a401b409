// Tree elements are plain tagged data; rowFor() turns one into everything a
// TreeItem needs, without touching the VS Code API (so it is unit-tested).
import { describeRetention } from './backup/retention';
import { engineSpec } from './engines';
import { parseBackupName } from './backup/naming';
import { type Verification, verificationLines, verificationText } from './backup/verification';
import { humanAge, humanSize } from './format';
import { type Database, type Server, ENGINE_LABELS } from './model';
import type { ServerTool } from './backup/serverListing';
import { type BackupEntry, LOCATION_LABELS } from './s3/layout';
import { diagnoseS3Error } from './s3/scripts';
import type { ScheduleView } from './schedule/cron';

export type ServerState = { kind: 'idle' } | { kind: 'connected' } | { kind: 'error'; message: string };

export type TreeNode =
  | {
      kind: 'server';
      server: Server;
      state: ServerState;
      /** What its last listing found of the client tools backups need (awscli first). */
      tools?: readonly ServerTool[];
    }
  | {
      kind: 'database';
      server: Server;
      database: Database;
      backups?: DatabaseSummary;
      /** Its schedule, when it has one (store + what the server said). */
      schedule?: ScheduleView;
    }
  | { kind: 'backup'; server: Server; database: Database; entry: BackupEntry }
  | { kind: 'message'; id: string; text: string; description?: string; detail?: string; isError: boolean };

/** What the last listing said about a database, for its row's description. */
export type DatabaseSummary =
  | { state: 'loading' }
  | {
      state: 'listed';
      count: number;
      newest?: Date;
      /** The newest verification of any of its backups (Verify Backup). */
      verified?: Verification;
    };

export interface TreeRow {
  id: string;
  label: string;
  description?: string;
  tooltip: string;
  contextValue: string;
  icon: { id: string; color?: string };
  collapsible: 'none' | 'collapsed' | 'expanded';
}

export function nodeId(node: TreeNode): string {
  switch (node.kind) {
    case 'server':
      return `server:${node.server.id}`;
    case 'database':
      return `database:${node.database.id}`;
    case 'backup':
      return `backup:${node.server.id}:${node.entry.filename}`;
    case 'message':
      return `message:${node.id}`;
  }
}

function serverState(state: ServerState): { text: string; icon: TreeRow['icon'] } {
  switch (state.kind) {
    case 'idle':
      return { text: 'not connected', icon: { id: 'server' } };
    case 'connected':
      return { text: 'connected', icon: { id: 'server', color: 'testing.iconPassed' } };
    case 'error':
      return { text: 'error', icon: { id: 'error', color: 'list.errorForeground' } };
  }
}

const LOCATION_ICONS: Record<BackupEntry['location'], TreeRow['icon']> = {
  local: { id: 'file-zip' },
  s3: { id: 'cloud' },
  both: { id: 'cloud', color: 'testing.iconPassed' },
};

/** "2026-11-25 02:03:04 UTC" from a Date. */
function utcLabel(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "11-25 02:03 UTC": the start time beside a backup's label. */
function shortUtc(d: Date): string {
  return `${d.toISOString().slice(5, 16).replace('T', ' ')} UTC`;
}

function summaryText(s: DatabaseSummary | undefined, now: Date): string | undefined {
  if (!s) return undefined;
  if (s.state === 'loading') return 'listing…';
  if (s.count === 0) return 'no backups';
  return `${s.count} backup${s.count === 1 ? '' : 's'}${s.newest ? `, last ${humanAge(s.newest, now)}` : ''}`;
}

/** A tool as the user knows it: awscli, or its alternatives ("mysqldump or mariadb-dump"). */
function toolLabel(name: string): string {
  return name === 'aws' ? 'awscli' : name.split('|').join(' or ');
}

/**
 * Whether the server is ready for backups, as far as anyone knows: when
 * Provision Server ran, and what the last listing found of the tools backups
 * need (so a server that has them all is not told to provision).
 */
function readinessLines(s: Server, tools: readonly ServerTool[] | undefined): string[] {
  const lines: string[] = [];
  if (s.provisionedAt) {
    const at = new Date(s.provisionedAt);
    const when = Number.isNaN(at.getTime())
      ? s.provisionedAt
      : `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    lines.push(`Provisioned: ${when}${s.awsCliVersion ? ` · ${s.awsCliVersion}` : ''}`);
  }
  if (!tools) {
    if (!s.provisionedAt)
      lines.push('Not provisioned by infrakt; its tools are checked when it is listed (expand it)');
    return lines;
  }
  const missing = tools.filter((t) => !t.found).map((t) => toolLabel(t.name));
  const found = tools.filter((t) => t.found).map((t) => toolLabel(t.name));
  if (missing.length > 0) {
    lines.push(`Missing on the server: ${missing.join(', ')} — run Provision Server`);
    if (found.length > 0) lines.push(`Found: ${found.join(', ')}`);
  } else if (!s.provisionedAt) {
    lines.push(
      found.length > 0
        ? `Not provisioned by infrakt, and not needed: ${found.join(', ')} found on the server`
        : 'Not provisioned by infrakt',
    );
  } else if (found.length > 0) {
    lines.push(`Tools found: ${found.join(', ')}`);
  }
  return lines;
}

/** What stopped the S3 part of a server's listing. */
export type S3ListingProblem =
  | { kind: 'no-secret' }
  /** The listing failed; `message` is what it said (awscli's error, already redacted). */
  | { kind: 'listing'; message: string };

/**
 * The warning row above a server's databases when its S3 copies could not be
 * listed: a label short enough for the default side bar, the cause beside it,
 * the whole story in the tooltip.
 */
export function s3ProblemRow(
  server: Pick<Server, 'id' | 'name'>,
  problem: S3ListingProblem,
): Extract<TreeNode, { kind: 'message' }> {
  const base = {
    kind: 'message' as const,
    id: `${server.id}:s3-error`,
    text: 'S3 copies not listed',
    isError: true,
  };
  if (problem.kind === 'no-secret')
    return {
      ...base,
      description: 'no S3 secret key on this computer',
      detail:
        'The S3 secret key is not stored on this computer (VS Code keeps secrets per machine), so the bucket cannot be listed from here.\nNext: enter it in S3 Settings (Infrakt: Open S3 Settings); the tree lists S3 again once it is saved.',
    };
  const d = diagnoseS3Error(problem.message, server.name);
  return {
    ...base,
    description: d.cause,
    detail: `${d.cause}\nNext: ${d.next}.\nWhat the listing said (also in the Infrakt log):\n${problem.message}`,
  };
}

/** A stored row that fails its schema: shown with why, offering only Edit/Remove. */
function brokenRow(id: string, label: string, problem: string, contextValue: string): TreeRow {
  return {
    id,
    label,
    description: 'broken — hover for why',
    tooltip: problem,
    contextValue,
    icon: { id: 'warning', color: 'list.errorForeground' },
    collapsible: 'none',
  };
}

/** What an engine's verification counts: tables, or Redis's keys. */
function countsOf(d: Pick<Database, 'engine'>): 'tables' | 'keys' {
  return engineSpec(d.engine).verify?.counts ?? 'tables';
}

/** The database row's part: its newest verification, when any backup of it was verified. */
function verifiedText(d: Database, s: DatabaseSummary | undefined, now: Date): string | undefined {
  return s?.state === 'listed' && s.verified ? verificationText(s.verified, countsOf(d), now) : undefined;
}

export function rowFor(node: TreeNode, now: Date = new Date()): TreeRow {
  const id = nodeId(node);
  switch (node.kind) {
    case 'server': {
      const { server: s } = node;
      if (s.problem) return brokenRow(id, s.name, s.problem, 'infrakt.brokenServer');
      const state = serverState(node.state);
      const lines = [
        `${s.name} — ${state.text}`,
        `Host: ${s.host}:${s.port}`,
        `User: ${s.user}`,
        `Auth: ${s.auth === 'key' ? `key ${s.keyPath ?? ''}` : s.auth}`,
        `Backups: ${s.backupDir}`,
        ...readinessLines(s, node.tools),
      ];
      if (node.state.kind === 'error') lines.push(`Last error: ${node.state.message}`);
      return {
        id,
        label: s.name,
        description: `${s.user}@${s.host}${s.port === 22 ? '' : `:${s.port}`}${
          node.tools?.some((t) => !t.found) ? ' · tools missing' : ''
        }`,
        tooltip: lines.join('\n'),
        contextValue: `infrakt.server.${node.state.kind}`,
        icon: state.icon,
        collapsible: 'collapsed',
      };
    }
    case 'database': {
      const d = node.database;
      if (d.problem) return brokenRow(id, d.name, d.problem, 'infrakt.brokenDatabase');
      const where =
        d.mode === 'container'
          ? `container ${d.container}`
          : d.dbPath
            ? d.dbPath
            : `${d.dbHost}:${d.dbPort}${d.dbName ? `/${d.dbName}` : ''}`;
      return {
        id,
        label: d.name,
        description: [
          ENGINE_LABELS[d.engine],
          summaryText(node.backups, now),
          node.schedule?.text,
          verifiedText(d, node.backups, now),
        ]
          .filter(Boolean)
          .join(' · '),
        tooltip: [
          `${d.name} on ${node.server.name}`,
          `Engine: ${ENGINE_LABELS[d.engine]}`,
          `Reached via ${where} (${d.mode === 'container' ? 'Docker container' : 'installed on the server'})`,
          ...(node.schedule?.detail ?? [
            'Not scheduled — use Schedule Backups',
            `Retention: ${describeRetention(d.retention)} (Set Retention…)`,
          ]),
          ...(node.backups?.state === 'listed' && node.backups.verified
            ? verificationLines(node.backups.verified, countsOf(d))
            : []),
        ].join('\n'),
        contextValue: `infrakt.database.${d.engine}${node.schedule ? '.scheduled' : ''}`,
        icon: node.schedule?.problem
          ? { id: 'error', color: 'list.errorForeground' }
          : { id: engineSpec(d.engine).icon },
        collapsible: 'collapsed',
      };
    }
    case 'backup': {
      const e = node.entry;
      const where = LOCATION_LABELS[e.location];
      const started = parseBackupName(e.filename)?.startedAt ?? e.modified;
      // The label is what must stay visible in a narrow side bar (where, size,
      // age); the start time beside it may be cut, and is whole in the tooltip.
      return {
        id,
        label: `${where} · ${humanSize(e.sizeBytes)} · ${humanAge(e.modified, now)}`,
        description: [
          shortUtc(started),
          e.verification && verificationText(e.verification, countsOf(node.database), now),
        ]
          .filter(Boolean)
          .join(' · '),
        tooltip: [
          `Started ${utcLabel(started)}`,
          e.filename,
          `Size: ${humanSize(e.sizeBytes)} (${e.sizeBytes} bytes)`,
          `Stored: ${where}${e.location === 's3' ? ' (a restore reads it from S3; no copy is kept on the server)' : ''}`,
          `Checksum: ${e.hasChecksum ? 'sha256 kept beside it' : 'missing — restore will refuse it'}`,
          ...(parseBackupName(e.filename)?.encrypted
            ? ['Encrypted with age: restores with a recovery key on this computer']
            : []),
          ...(e.verification ? verificationLines(e.verification, countsOf(node.database)) : []),
        ].join('\n'),
        contextValue: `infrakt.backup.${e.location}`,
        // An encrypted backup shows a lock (its location stays in the label and the colour).
        icon: parseBackupName(e.filename)?.encrypted
          ? { id: 'lock', color: LOCATION_ICONS[e.location].color }
          : LOCATION_ICONS[e.location],
        collapsible: 'none',
      };
    }
    case 'message':
      return {
        id,
        label: node.text,
        description: node.description,
        tooltip: node.detail ?? [node.text, node.description].filter(Boolean).join(': '),
        contextValue: node.isError ? 'infrakt.error' : 'infrakt.message',
        icon: node.isError ? { id: 'warning', color: 'list.warningForeground' } : { id: 'info' },
        collapsible: 'none',
      };
  }
}
