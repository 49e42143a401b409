// Test Connection for a server: one round trip that reports what backups need.
import { remoteDir } from './model';
import { shellQuote as q, wholeScript } from './backup/shell';

export interface ServerProbe {
  os: string;
  user: string;
  privilege: 'root' | 'sudo' | 'none';
  docker?: string;
  aws?: string;
  backupDir: 'writable' | 'creatable' | 'not-writable';
}

const MARK = '@@infrakt:probe';

export function probeScript(backupDir: string): string {
  const dir = remoteDir.parse(backupDir);
  return wholeScript([
    `d=${q(dir)}`,
    `os=$( . /etc/os-release 2>/dev/null && printf '%s' "$PRETTY_NAME" ) || os=''`,
    '[ -n "$os" ] || os=$(uname -sr)',
    `printf '${MARK} os %s\\n' "$os"`,
    `printf '${MARK} user %s\\n' "$(id -un)"`,
    `if [ "$(id -u)" = 0 ]; then p=root; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null </dev/null; then p=sudo; else p=none; fi`,
    `printf '${MARK} privilege %s\\n' "$p"`,
    `if command -v docker >/dev/null 2>&1; then printf '${MARK} docker %s\\n' "$(docker --version 2>/dev/null | head -n1)"; fi`,
    `if command -v aws >/dev/null 2>&1; then printf '${MARK} aws %s\\n' "$(aws --version 2>&1 </dev/null | head -n1)"; fi`,
    'if [ -d "$d" ]; then if [ -w "$d" ]; then b=writable; else b=not-writable; fi',
    'else p2=$(dirname "$d"); while [ ! -d "$p2" ]; do p2=$(dirname "$p2"); done',
    '  if [ -w "$p2" ] || [ "$p" != none ]; then b=creatable; else b=not-writable; fi; fi',
    `printf '${MARK} backupdir %s\\n' "$b"`,
  ]);
}

export function parseProbe(stdout: string): ServerProbe {
  const v = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${MARK} `)) continue;
    const rest = line.slice(MARK.length + 1);
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
