// Provision Server: one remote run that makes a server ready for backups and
// reports each step as a machine-readable line. Idempotent: a step that finds
// its work already done says so and changes nothing. The run is the base part
// (remote/sh/provision.sh: privileges, packages, cron, the backup dir, the
// client tools the databases need) followed by one part per host-mode database
// whose engine checks it (its module's `infrakt_db_check`, e.g. PostgreSQL's
// pg_dump against the server's version), sent as one script.
import { targetVars } from '../backup/backupScript';
import { checkServer } from '../backup/serverCheck';
import { type BackupDatabase, type BackupServer, type CheckedTarget, checkTarget } from '../backup/target';
import { engineSpec } from '../engines';
import type { Database } from '../model';
import { SH } from '../remote/modules';
import { MARKS } from '../remote/protocol';
import { remoteScript, sequenceScripts } from '../remote/script';

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

/**
 * `<engine> <tool>[|<alternative>…]`, one item per client tool the host-mode
 * databases need (a tool listed twice is checked once).
 */
function toolChecks(targets: readonly CheckedTarget[]): string[] {
  const items = new Map<string, string>();
  for (const t of targets.filter((x) => x.mode === 'host')) {
    const { tools } = engineSpec(t.engine);
    for (const alternatives of [...tools.dump, ...tools.restore]) {
      if (!items.has(alternatives)) items.set(alternatives, `${t.engine} ${alternatives}`);
    }
  }
  return [...items.values()];
}

export function provisionScript(opts: {
  server: BackupServer;
  databases: readonly (BackupDatabase & Pick<Database, 'id'>)[];
  /** Host-mode database passwords by database id (for the engines' checks); sent only in this script. */
  passwords?: ReadonlyMap<string, string>;
  /** Backups are encrypted: install age. */
  encryption?: boolean;
}): string {
  const server = checkServer(opts.server);
  // Every database is checked as a backup checks it: one that fails is refused, never used.
  const targets = opts.databases.map((d) => {
    const password = opts.passwords?.get(d.id);
    return checkTarget({
      server,
      database: d,
      password: d.mode === 'host' && password ? { kind: 'inline', password } : { kind: 'none' },
    });
  });
  const base = remoteScript({
    vars: {
      infrakt_dir: { value: server.backupDir, field: 'Backup directory' },
      infrakt_provision_tools: { value: toolChecks(targets), field: 'Client tools' },
      infrakt_provision_docker: targets.some((t) => t.mode === 'container'),
      infrakt_provision_age: opts.encryption === true,
    },
    modules: [SH.step, SH.crond, SH.httpclient, SH.provision],
    call: 'infrakt_provision',
  });
  const checks = targets
    .filter((t) => t.mode === 'host' && engineSpec(t.engine).provisionCheck)
    .map((t) => ({
      what: `the check of ${t.name}`,
      script: remoteScript({
        vars: { ...targetVars(t), infrakt_provision_db: { value: t.name, field: 'Database name' } },
        modules: [SH.common, engineSpec(t.engine).shell, SH.step],
        call: 'infrakt_provision_check',
      }),
    }));
  return sequenceScripts([{ what: 'provisioning', script: base }, ...checks]);
}

export function parseProvisionOutput(stdout: string): ProvisionReport {
  const steps: ProvisionStep[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${MARKS.provisionStep} `)) continue;
    const rest = line.slice(MARKS.provisionStep.length + 1);
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
