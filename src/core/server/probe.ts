// Test Connection for a server: one round trip that reports what backups need
// (remote/sh/probe.sh).
import { check } from '../backup/serverCheck';
import { remoteDir } from '../model';
import { MARKS } from '../remote/protocol';
import { SH } from '../remote/modules';
import { remoteScript } from '../remote/script';

export interface ServerProbe {
  os: string;
  user: string;
  privilege: 'root' | 'sudo' | 'none';
  docker?: string;
  aws?: string;
  backupDir: 'writable' | 'creatable' | 'not-writable';
}

export function probeScript(backupDir: string): string {
  return remoteScript({
    vars: {
      infrakt_dir: { value: check(remoteDir, backupDir, 'Backup directory'), field: 'Backup directory' },
    },
    modules: [SH.probe],
    call: 'infrakt_probe',
  });
}

export function parseProbe(stdout: string): ServerProbe {
  const v = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${MARKS.probe} `)) continue;
    const rest = line.slice(MARKS.probe.length + 1);
    const sp = rest.indexOf(' ');
    v.set(sp < 0 ? rest : rest.slice(0, sp), sp < 0 ? '' : rest.slice(sp + 1).trim());
  }
  const priv = v.get('privilege');
  const dir = v.get('backupdir');
  return {
    os: v.get('os') || 'unknown OS',
    user: v.get('user') || '?',
    privilege: priv === 'root' || priv === 'sudo' ? priv : 'none',
    docker: v.get('docker') || undefined,
    aws: v.get('aws') || undefined,
    backupDir: dir === 'writable' || dir === 'creatable' ? dir : 'not-writable',
  };
}

export function describeProbe(serverName: string, p: ServerProbe, backupDir: string): string {
  const parts = [
    `${serverName}: ${p.os}, user ${p.user} (${p.privilege === 'root' ? 'root' : p.privilege === 'sudo' ? 'passwordless sudo' : 'no root or passwordless sudo'})`,
    p.docker ? p.docker.replace(/,.*$/, '') : 'no docker',
    p.aws ? p.aws.split(' ')[0] : 'awscli not found — run Provision Server',
    `${backupDir} ${p.backupDir === 'not-writable' ? 'NOT writable' : p.backupDir}`,
  ];
  return parts.join(' · ');
}
