// Provision Server: one remote script that makes a server ready for backups and
// reports each step as a machine-readable line. Idempotent: a step that finds
// its work already done says so and changes nothing.
import { engineSpec } from './engines';
import { type Database, remoteDir } from './model';
import { EXIT } from './remote/protocol';

export const STEP_MARK = '@@infrakt:step';

export type StepStatus = 'done' | 'changed' | 'warn' | 'failed';

export interface ProvisionStep {
  id: string;
  status: StepStatus;
  detail: string;
}

export interface ProvisionReport {
  steps: ProvisionStep[];
  awsVersion?: string;
  /** As recorded on the server row: "aws-cli/2.15.0". */
  awsCliVersion?: string;
  packageManager?: string;
  /** True when nothing was installed or created. */
  unchanged: boolean;
  ok: boolean;
}

function q(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Tool checks for the databases that will be backed up from this server. */
function databaseChecks(databases: readonly Database[], passwords?: ReadonlyMap<string, string>): string[] {
  const lines: string[] = [];
  const hostEngines = [...new Set(databases.filter((d) => d.mode === 'host').map((d) => d.engine))];
  for (const engine of hostEngines) {
    const { tools } = engineSpec(engine);
    for (const alternatives of [...tools.dump, ...tools.restore]) {
      const names = alternatives.split('|');
      const found = names.map((n) => `command -v ${n} >/dev/null 2>&1`).join(' || ');
      lines.push(
        `if ${found}; then step tool-${names[0]} done ${q(`${names.join(' or ')} present`)}; else step tool-${names[0]} warn ${q(
          `${names.join(' or ')} not found: backups of ${engine} databases on this host need it (install the ${engine} client package)`,
        )}; fi`,
      );
    }
  }
  // pg_dump refuses to dump a newer server; warn before the first backup fails.
  for (const d of databases.filter((x) => x.mode === 'host' && x.engine === 'postgres')) {
    const host = q(d.dbHost ?? '127.0.0.1');
    const port = String(d.dbPort ?? 5432);
    const user = q(d.dbUser ?? 'postgres');
    const pw = passwords?.get(d.id);
    lines.push(
      `if command -v pg_dump >/dev/null 2>&1 && command -v psql >/dev/null 2>&1; then`,
      // The stored password, when there is one, only as this command's environment (never argv).
      `  sv=$(${pw ? `PGPASSWORD=${q(pw)} ` : ''}psql -h ${host} -p ${port} -U ${user} -d ${q(d.dbName ?? 'postgres')} -Atqc 'show server_version_num' 2>/dev/null </dev/null || true)`,
      `  cv=$(pg_dump --version 2>/dev/null | sed -n 's/.* \\([0-9][0-9]*\\)\\.\\([0-9]*\\).*/\\1/p' | head -n1)`,
      `  if [ -n "$sv" ] && [ -n "$cv" ] && [ $((sv / 10000)) -gt "$cv" ]; then`,
      `    step pgversion-${d.name} warn "pg_dump $cv is older than the server ($((sv / 10000))) for ${d.name}: install postgresql-client-$((sv / 10000))"`,
      `  elif [ -n "$sv" ]; then step pgversion-${d.name} done "pg_dump $cv can dump server $((sv / 10000))"`,
      `  else step pgversion-${d.name} warn ${q(`could not ask ${d.name}'s server for its version (psql to ${d.dbHost ?? '127.0.0.1'}:${port} as ${d.dbUser ?? 'postgres'} failed): check the database's host, port, user and password`)}; fi`,
      `fi`,
    );
  }
  if (databases.some((d) => d.mode === 'container')) {
    lines.push(
      `if command -v docker >/dev/null 2>&1; then step docker done "$(docker --version 2>/dev/null | head -n1)"; else step docker warn 'docker not found: container-mode databases need it'; fi`,
    );
  }
  return lines;
}

export function provisionScript(opts: {
  backupDir: string;
  databases: readonly Database[];
  /** Host-mode database passwords by database id (for the version check); sent only in this script. */
  passwords?: ReadonlyMap<string, string>;
}): string {
  const dir = remoteDir.parse(opts.backupDir);
  return [
    'set -u',
    `step() { printf '${STEP_MARK} %s %s %s\\n' "$1" "$2" "$3"; }`,
    'if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n";',
    `else step privileges failed 'needs root or passwordless sudo. Run as root by hand: apt-get install -y awscli gzip zstd cron && mkdir -p ${dir} && chmod 700 ${dir}'; exit ${EXIT.provision}; fi`,
    'step privileges done "$( [ -z "$SUDO" ] && echo root || echo "passwordless sudo")"',
    'PM=""',
    'for c in apt-get dnf yum apk zypper; do if command -v "$c" >/dev/null 2>&1; then PM="$c"; break; fi; done',
    `if [ -z "$PM" ]; then step package-manager failed "no apt-get, dnf, yum, apk or zypper found: install awscli, gzip and cron by hand"; exit ${EXIT.provision}; fi`,
    'step package-manager done "$PM"',
    'UPDATED=""',
    'pkg_install() {',
    '  case "$PM" in',
    '    apt-get) if [ -z "$UPDATED" ]; then $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1; UPDATED=1; fi',
    '             $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ;;',
    '    dnf|yum) $SUDO "$PM" install -y -q "$@" >/dev/null 2>&1 ;;',
    '    apk) $SUDO apk add --no-cache "$@" >/dev/null 2>&1 ;;',
    '    zypper) $SUDO zypper -n -q install "$@" >/dev/null 2>&1 ;;',
    '  esac',
    '}',
    // awscli: distribution package first, then pipx (Debian 12+ refuses a system-wide pip install).
    'if command -v aws >/dev/null 2>&1; then step awscli done "$(aws --version 2>&1 | head -n1)"',
    'else',
    '  case "$PM" in apt-get) p=awscli ;; apk|zypper) p=aws-cli ;; *) p=awscli ;; esac',
    '  if pkg_install "$p" && command -v aws >/dev/null 2>&1; then step awscli changed "installed $(aws --version 2>&1 | head -n1)"',
    '  elif { command -v pipx >/dev/null 2>&1 || pkg_install pipx; } && $SUDO env PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin pipx install awscli >/dev/null 2>&1 && command -v aws >/dev/null 2>&1; then',
    '    step awscli changed "installed with pipx: $(aws --version 2>&1 | head -n1)"',
    '  else step awscli failed "could not install awscli with $PM or pipx: install it by hand (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"; fi',
    'fi',
    'if command -v gzip >/dev/null 2>&1; then step gzip done present',
    'elif pkg_install gzip; then step gzip changed installed; else step gzip failed "could not install gzip"; fi',
    'if command -v zstd >/dev/null 2>&1; then step zstd done present',
    'elif pkg_install zstd && command -v zstd >/dev/null 2>&1; then step zstd changed installed',
    'else step zstd warn "zstd not available from $PM: backups use gzip (slower, larger)"; fi',
    'if command -v crontab >/dev/null 2>&1; then step cron done present',
    'else case "$PM" in dnf|yum) c=cronie ;; apk) c=dcron ;; *) c=cron ;; esac',
    '  if pkg_install "$c" && command -v crontab >/dev/null 2>&1; then step cron changed "installed $c"; else step cron failed "could not install $c: scheduled backups need cron"; fi',
    'fi',
    // An installed cron whose daemon does not run never runs a schedule: start it (and enable it at boot).
    'crond_running() { for f in /proc/[0-9]*/comm; do read -r n 2>/dev/null < "$f" || continue; case "$n" in cron|crond|busybox-crond) return 0 ;; esac; done; return 1; }',
    'if crond_running; then step crond done running',
    'else',
    '  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then for u in cron crond cronie; do $SUDO systemctl enable --now "$u" >/dev/null 2>&1 && break; done',
    '  elif command -v rc-service >/dev/null 2>&1; then $SUDO rc-update add crond >/dev/null 2>&1; $SUDO rc-service crond start >/dev/null 2>&1',
    '  elif command -v service >/dev/null 2>&1; then for u in cron crond; do $SUDO service "$u" start >/dev/null 2>&1 && break; done',
    '  fi',
    '  n=0; while ! crond_running && [ $n -lt 5 ]; do sleep 1; n=$((n + 1)); done',
    '  if crond_running; then step crond changed "started the cron daemon"',
    '  else step crond warn "the cron daemon is not running and could not be started: schedules will not run until it is (e.g. systemctl enable --now cron)"; fi',
    'fi',
    `d=${q(dir)}`,
    'if [ -d "$d" ] && [ "$(stat -c %a "$d" 2>/dev/null)" = 700 ]; then step backup-dir done "$d exists (0700)"',
    'elif $SUDO mkdir -p "$d" && $SUDO chmod 700 "$d"; then step backup-dir changed "$d ready (0700)"',
    'else step backup-dir failed "could not create $d"; fi',
    ...databaseChecks(opts.databases, opts.passwords),
    'exit 0',
    '',
  ].join('\n');
}

export function parseProvisionOutput(stdout: string): ProvisionReport {
  const steps: ProvisionStep[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${STEP_MARK} `)) continue;
    const rest = line.slice(STEP_MARK.length + 1);
    const [id, status, ...detail] = rest.split(' ');
    if (!id || !['done', 'changed', 'warn', 'failed'].includes(status)) continue;
    steps.push({ id, status: status as StepStatus, detail: detail.join(' ') });
  }
  const aws = steps.find((s) => s.id === 'awscli' && s.status !== 'failed');
  const awsVersion = aws?.detail.match(/aws-cli\/(\S+)/)?.[1];
  return {
    steps,
    awsVersion,
    awsCliVersion: awsVersion ? `aws-cli/${awsVersion}` : undefined,
    packageManager: steps.find((s) => s.id === 'package-manager')?.detail,
    unchanged: steps.every((s) => s.status !== 'changed'),
    ok: steps.length > 0 && steps.every((s) => s.status !== 'failed'),
  };
}

const ICON: Record<StepStatus, string> = { done: '✓ already done', changed: '✓', warn: '⚠', failed: '✗' };

export function summariseProvision(serverName: string, r: ProvisionReport): string {
  const failed = r.steps.filter((s) => s.status === 'failed');
  const warned = r.steps.filter((s) => s.status === 'warn');
  if (failed.length > 0)
    return `Provisioning ${serverName} failed: ${failed.map((s) => `${s.id}: ${s.detail}`).join('; ')}`;
  const changed = r.steps.filter((s) => s.status === 'changed').map((s) => s.id);
  // A warning is not a change: "nothing had to change" stays true beside it.
  const head = r.unchanged
    ? `${serverName} is already provisioned — nothing had to change`
    : `${serverName} provisioned — changed: ${changed.join(', ')}`;
  return warned.length
    ? `${head} (${warned.length} warning${warned.length > 1 ? 's' : ''}: ${warned.map((s) => s.detail).join('; ')})`
    : head;
}

export function stepLine(s: ProvisionStep): string {
  return `${ICON[s.status]} ${s.id}: ${s.detail}`;
}
