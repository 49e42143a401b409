// Tree elements are plain tagged data; rowFor() turns one into everything a
// TreeItem needs, without touching the VS Code API (so it is unit-tested).
import { describeRetention } from './backup/retention';
import { engineSpec } from './engines';
import { parseBackupName } from './backup/naming';
import { humanAge, humanSize } from './format';
import { type Database, type Server, ENGINE_LABELS } from './model';
import { type BackupEntry, LOCATION_LABELS } from './s3/layout';
import type { ScheduleView } from './schedule/cron';

export type ServerState = { kind: 'idle' } | { kind: 'connected' } | { kind: 'error'; message: string };

export type TreeNode =
  | { kind: 'server'; server: Server; state: ServerState }
  | {
      kind: 'database';
      server: Server;
      database: Database;
      backups?: DatabaseSummary;
      /** Its schedule, when it has one (store + what the server said). */
      schedule?: ScheduleView;
    }
  | { kind: 'backup'; server: Server; database: Database; entry: BackupEntry }
  | { kind: 'message'; id: string; text: string; detail?: string; isError: boolean };

/** What the last listing said about a database, for its row's description. */
export type DatabaseSummary = { state: 'loading' } | { state: 'listed'; count: number; newest?: Date };

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
export function utcLabel(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function summaryText(s: DatabaseSummary | undefined, now: Date): string | undefined {
  if (!s) return undefined;
  if (s.state === 'loading') return 'listing…';
  if (s.count === 0) return 'no backups';
  return `${s.count} backup${s.count === 1 ? '' : 's'}${s.newest ? `, last ${humanAge(s.newest, now)}` : ''}`;
}

/** "Provisioned: 2026-11-28 08:30 UTC · aws-cli/2.15.0", or what to do when it never was. */
function provisionedText(s: Server): string {
  if (!s.provisionedAt) return 'Not provisioned yet — run Provision Server';
  const at = new Date(s.provisionedAt);
  const when = Number.isNaN(at.getTime())
    ? s.provisionedAt
    : `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `Provisioned: ${when}${s.awsCliVersion ? ` · ${s.awsCliVersion}` : ''}`;
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
        provisionedText(s),
      ];
      if (node.state.kind === 'error') lines.push(`Last error: ${node.state.message}`);
      return {
        id,
        label: s.name,
        description: `${s.user}@${s.host}${s.port === 22 ? '' : `:${s.port}`}`,
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
        description: [ENGINE_LABELS[d.engine], summaryText(node.backups, now), node.schedule?.text]
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
      return {
        id,
        label: utcLabel(started),
        description: `${where} · ${humanSize(e.sizeBytes)} · ${humanAge(e.modified, now)}`,
        tooltip: [
          e.filename,
          `Size: ${humanSize(e.sizeBytes)} (${e.sizeBytes} bytes)`,
          `Stored: ${where}${e.location === 's3' ? ' (a restore downloads it to the server and removes it afterwards)' : ''}`,
          `Checksum: ${e.hasChecksum ? 'sha256 kept beside it' : 'missing — restore will refuse it'}`,
          ...(parseBackupName(e.filename)?.encrypted
            ? ['Encrypted with age: restores with a recovery key on this computer']
            : []),
        ].join('\n'),
        contextValue: `infrakt.backup.${e.location}`,
        // An encrypted backup shows a lock (its location stays in the description and the colour).
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
        tooltip: node.detail ?? node.text,
        contextValue: node.isError ? 'infrakt.error' : 'infrakt.message',
        icon: node.isError ? { id: 'warning', color: 'list.warningForeground' } : { id: 'info' },
        collapsible: 'none',
      };
  }
}
