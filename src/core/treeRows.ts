// Tree elements are plain tagged data; rowFor() turns one into everything a
// TreeItem needs, without touching the VS Code API (so it is unit-tested).
import { type Database, type Server, ENGINE_LABELS } from './model';

export type ServerState = { kind: 'idle' } | { kind: 'connected' } | { kind: 'error'; message: string };

export type TreeNode =
  | { kind: 'server'; server: Server; state: ServerState }
  | { kind: 'database'; server: Server; database: Database }
  | { kind: 'message'; id: string; text: string; detail?: string; isError: boolean };

export interface TreeRow {
  id: string;
  label: string;
  description?: string;
  tooltip: string;
  contextValue: string;
  icon: { id: string; color?: string };
  collapsible: 'none' | 'collapsed' | 'expanded';
}

const ENGINE_ICONS: Record<Database['engine'], string> = {
  postgres: 'database',
  mysql: 'database',
  redis: 'symbol-key',
  mongodb: 'symbol-namespace',
};

export function nodeId(node: TreeNode): string {
  switch (node.kind) {
    case 'server':
      return `server:${node.server.id}`;
    case 'database':
      return `database:${node.database.id}`;
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

export function rowFor(node: TreeNode): TreeRow {
  const id = nodeId(node);
  switch (node.kind) {
    case 'server': {
      const { server: s } = node;
      const state = serverState(node.state);
      const lines = [
        `${s.name} — ${state.text}`,
        `Host: ${s.host}:${s.port}`,
        `User: ${s.user}`,
        `Auth: ${s.auth === 'key' ? `key ${s.keyPath ?? ''}` : s.auth}`,
        `Backups: ${s.backupDir}`,
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
      const where =
        d.mode === 'container'
          ? `container ${d.container}`
          : `${d.dbHost}:${d.dbPort}${d.dbName ? `/${d.dbName}` : ''}`;
      return {
        id,
        label: d.name,
        description: `${ENGINE_LABELS[d.engine]} · ${d.mode === 'container' ? 'container' : 'host'}`,
        tooltip: [
          `${d.name} on ${node.server.name}`,
          `Engine: ${ENGINE_LABELS[d.engine]}`,
          `Reached via ${where}`,
        ].join('\n'),
        contextValue: `infrakt.database.${d.engine}`,
        icon: { id: ENGINE_ICONS[d.engine] },
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
