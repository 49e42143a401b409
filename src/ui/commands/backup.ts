// Back Up Now, Restore, Delete and Upload to S3 — each one remote script run
// (Restore: download when S3-only, safety backup, restore) under one
// cancellable notification, with the tree refreshed afterwards.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  BackupError,
  backUpNow,
  checkServerBackupFile,
  parseBackupName,
  deleteBackup,
  restoreBackup,
  checksumScript,
  parseChecksum,
  shortKey,
  stderrExcerpt,
  type BackupResult,
} from '../../core/backup';
import { humanSize } from '../../core/format';
import { EXIT } from '../../core/remote/protocol';
import type { Database, RetentionPolicy, Server } from '../../core/model';
import { LOCATION_LABELS } from '../../core/s3/layout';
import {
  type S3Credentials,
  DEFAULT_UPLOAD_STALL_SECONDS,
  diagnoseS3Error,
  s3DeleteScript,
  s3UploadFileScript,
  s3UploadSink,
} from '../../core/s3/scripts';
import type { TreeNode } from '../../core/treeRows';
import { backupTarget, s3Access } from '../credentials';
import { ActionableError, OPEN_S3_SETTINGS, provisionStep } from '../errors';
import { confirmModal } from '../input';
import { alertAfterBackUpNow } from './alertDelivery';
import { type RemoteSession, withRemote } from '../remote';
import { BackupProgressMeter } from '../../core/backup/progress';
import { summariseRetention } from '../../core/backup/retention';
import type { Services } from '../services';
import { encryptionRecipient, recoveryKeys } from '../credentials';
import { decryptFile, sshIdentity } from '../../core/backup/encryption';
import { resolveBackup, resolveDatabase } from './targets';

/** A missing tool on the server: the next step is Provision Server. */
function explain(err: unknown, server: Server): unknown {
  if (err instanceof BackupError && err.kind === 'tool-missing')
    return new ActionableError(err.message, [provisionStep(server)]);
  return err;
}

function s3Failure(stderr: string, server: Server, what: string): ActionableError {
  const d = diagnoseS3Error(stderr, server.name);
  const actions = /awscli not found/.test(d.cause) ? [provisionStep(server)] : [OPEN_S3_SETTINGS];
  return new ActionableError(`${what}: ${d.cause} — ${d.next}.`, actions);
}

/** A restore's error with its next step (Restore To… shows them as Restore does). */
export function explainBackupError(err: unknown, server: Server): unknown {
  return explain(err, server);
}

/** The safety backup before a restore: the one pipeline, local only, no retention. */
export function takeSafetyBackup(
  services: Services,
  session: RemoteSession,
  server: Server,
  database: Database,
): Promise<BackupResult> {
  return backUp(services, session, server, database, undefined);
}

function afterChange(services: Services, server: Server): void {
  services.tree.reload(server.id);
}

export async function backUpDatabase(services: Services, arg?: unknown): Promise<void> {
  const { server, database } = await resolveDatabase(services, arg, 'Back Up Now');
  const s3 = await s3Access(services);
  const creds = s3.state === 'ready' ? s3.creds : undefined;
  let stderr = '';
  const result = await withRemote(
    services,
    server,
    { title: `Backing up ${database.name} on ${server.name}` },
    async (session) => {
      const started = Date.now();
      const seconds = () => (Date.now() - started) / 1000;
      try {
        const r = await backUp(services, session, server, database, creds, {
          retention: database.retention,
          onStderr: (c) => {
            stderr = (stderr + c).slice(-4000);
          },
        });
        const uploadFailed = creds !== undefined && r.failedSinks.includes('s3');
        await alertAfterBackUpNow(services, session.runner, server, database, {
          ok: !uploadFailed,
          cause: uploadFailed ? `saved locally; upload to S3 failed: ${stderrExcerpt(stderr)}` : undefined,
          file: r.file,
          size: r.size,
          durationSeconds: seconds(),
        });
        return r;
      } catch (err) {
        services.store.recordBackup({
          databaseId: database.id,
          filename: '',
          sizeBytes: 0,
          location: 'local',
          ok: false,
          error: err instanceof Error ? err.message.slice(0, 500) : String(err),
        });
        const explained = explain(err, server);
        if (!session.signal.aborted)
          await alertAfterBackUpNow(services, session.runner, server, database, {
            ok: false,
            cause: explained instanceof Error ? explained.message : String(explained),
            durationSeconds: seconds(),
          });
        throw explained;
      }
    },
  );
  const uploaded = creds !== undefined && !result.failedSinks.includes('s3');
  services.store.recordBackup({
    databaseId: database.id,
    filename: result.file,
    sizeBytes: result.size,
    sha256: result.sha256,
    location: uploaded ? 'both' : 'local',
    ok: true,
  });
  const saved = `Backup of ${database.name} on ${server.name} saved: ${result.file} (${humanSize(result.size)})`;
  services.log.info(`${saved}; sha256 ${result.sha256}${uploaded ? '; uploaded to S3' : ''}`);
  const pruned = logRetention(services, database, result);
  // After retention's outcome: the listing then shows what it deleted as gone.
  afterChange(services, server);
  if (uploaded && creds) {
    void vscode.window.showInformationMessage(`${saved}, and uploaded to S3.${pruned}`);
    return;
  }
  if (creds) {
    const retry = {
      title: 'Retry Upload',
      command: 'infrakt.backup.upload',
      args: [backupNode(server, database, result)],
    };
    const failure = s3Failure(stderr, server, `${saved} locally; upload to S3 failed`);
    throw new ActionableError(failure.message, [retry, ...failure.actions]);
  }
  if (s3.state === 'no-secret') {
    void vscode.window
      .showWarningMessage(`${saved} locally; not uploaded: ${s3.message}.`, 'Open S3 Settings')
      .then((c) => c && vscode.commands.executeCommand(OPEN_S3_SETTINGS.command));
    return;
  }
  void vscode.window.showInformationMessage(`${saved} (on the server only — S3 storage is not configured).`);
}

/** Retention ran in the backup's own round trip: each deletion to the log, one sentence for the message. */
function logRetention(services: Services, database: Database, result: BackupResult): string {
  const r = result.retention;
  if (!r) return '';
  for (const f of r.deletedLocal)
    services.log.info(`Retention of ${database.name}: deleted ${f} on the server`);
  for (const k of r.deletedS3) services.log.info(`Retention of ${database.name}: deleted ${k} in S3`);
  if (r.error) services.log.warn(`Retention of ${database.name} did not finish: ${r.error}`);
  return summariseRetention(r);
}

function backupNode(server: Server, database: Database, r: BackupResult): TreeNode {
  return {
    kind: 'backup',
    server,
    database,
    entry: {
      filename: r.file,
      sizeBytes: r.size,
      modified: new Date(),
      location: 'local',
      hasChecksum: true,
    },
  };
}

/** The upload stall limit (setting), within what s3UploadSink accepts. */
export function uploadStallSeconds(): number {
  const v = vscode.workspace
    .getConfiguration('infrakt')
    .get<number>('s3.uploadStallSeconds', DEFAULT_UPLOAD_STALL_SECONDS);
  return Number.isInteger(v) && v >= 5 && v <= 3600 ? v : DEFAULT_UPLOAD_STALL_SECONDS;
}

/** The one backup pipeline (Back Up Now, safety backups): local file + sha256, and S3 when given. */
async function backUp(
  services: Services,
  { runner, progress, signal }: RemoteSession,
  server: Server,
  database: Database,
  creds: S3Credentials | undefined,
  /** Back Up Now applies the database's retention; the safety backup before a restore does not (it must not delete what is being restored). */
  opts: { retention?: RetentionPolicy; onStderr?: (chunk: string) => void } = {},
): Promise<BackupResult> {
  const { target, secrets } = await backupTarget(services, server, database);
  const s3 = creds
    ? { extraSinks: [s3UploadSink(creds, database.name, { stallSeconds: uploadStallSeconds() })] }
    : {};
  const meter = new BackupProgressMeter(Date.now());
  return backUpNow(
    {
      run: (script, o) =>
        runner.run(script, { ...o, secrets: [...secrets, ...(creds ? [creds.secretKey] : [])] }),
    },
    target,
    {
      ...s3,
      retention: opts.retention,
      encryptTo: encryptionRecipient(services),
      signal,
      onStderr: opts.onStderr,
      onEstimate: (e) => meter.addEstimate(e),
      onProgress: (bytes, { read }) =>
        progress.report({
          message: meter.update(bytes, read, Date.now(), creds ? 'written and streamed to S3' : 'written'),
        }),
    },
  );
}

export async function restoreFromBackup(services: Services, arg?: unknown): Promise<void> {
  const { server, database, entry } = await resolveBackup(services, arg, 'Restore Backup');
  const fromS3 = entry.location === 's3';
  const detail = [
    `${database.name} on ${server.name} is replaced with the backup ${entry.filename} (${humanSize(entry.sizeBytes)}, ${LOCATION_LABELS[entry.location]}).`,
    fromS3
      ? 'The server streams it from S3 into the restore and hashes it on the way; when its sha256 does not match, the restore is stopped before it finishes. Nothing is kept on the server (the backup stays in S3).'
      : 'Its sha256 is checked before anything is touched; a mismatch stops the restore.',
    'A safety backup of the current data is taken first unless you choose otherwise.',
  ].join('\n\n');
  const withSafety = 'Restore (safety backup first)';
  const without = 'Restore without safety backup';
  const answer = await vscode.window.showWarningMessage(
    `Restore ${database.name} on ${server.name}?`,
    { modal: true, detail },
    withSafety,
    without,
  );
  if (answer !== withSafety && answer !== without) return;

  const s3 = await s3Access(services);
  const creds = s3.state === 'ready' ? s3.creds : undefined;
  if (fromS3 && !creds)
    throw new ActionableError(
      `${entry.filename} is only in S3, and ${s3.state === 'no-secret' ? s3.message : 'S3 storage is not configured'}.`,
      [OPEN_S3_SETTINGS],
    );
  let safety: BackupResult | undefined;
  await withRemote(
    services,
    server,
    { title: `Restoring ${database.name} on ${server.name}` },
    async (session) => {
      const { runner, progress } = session;
      try {
        if (answer === withSafety) {
          progress.report({ message: 'taking a safety backup of the current data…' });
          safety = await backUp(services, session, server, database, undefined);
        }
        progress.report({
          message: fromS3
            ? `streaming ${entry.filename} from S3 into the restore…`
            : `restoring ${entry.filename}…`,
        });
        const { target, secrets } = await backupTarget(services, server, database);
        const restore = (identities: readonly string[]) =>
          restoreBackup(
            {
              run: (script, o) =>
                runner.run(script, {
                  ...o,
                  secrets: [...secrets, ...identities, ...(creds ? [creds.secretKey] : [])],
                }),
            },
            target,
            entry.filename,
            {
              signal: session.signal,
              identities,
              source:
                fromS3 && creds ? { kind: 's3', access: creds, databaseName: database.name } : undefined,
            },
          );
        await withRecoveryKeys(services, progress, entry.filename, restore);
      } catch (err) {
        throw explain(err, server);
      } finally {
        afterChange(services, server);
      }
    },
  );
  const msg = `Restored ${database.name} on ${server.name} from ${entry.filename}${
    fromS3 ? ' (streamed from S3; nothing was kept on the server)' : ''
  }.${safety ? ` Safety backup of the previous data: ${safety.file}.` : ''}`;
  services.log.info(msg);
  void vscode.window.showInformationMessage(msg);
}

/**
 * Runs a restore with the recovery keys on this computer; one refused because
 * the backup is encrypted for the user's own SSH key (nothing was touched) runs
 * again with that key's private key, picked now.
 */
export async function withRecoveryKeys(
  services: Services,
  progress: vscode.Progress<{ message?: string }>,
  filename: string,
  restore: (identities: readonly string[]) => Promise<unknown>,
): Promise<void> {
  try {
    await restore(await recoveryKeys(services));
  } catch (err) {
    const recipient = err instanceof BackupError ? err.details.recipient : undefined;
    if (!recipient?.startsWith('ssh-')) throw err;
    const key = await pickSshIdentity(recipient);
    progress.report({ message: `restoring ${filename} with your SSH key…` });
    await restore([key]);
  }
}

/** Asks for the private key of an ssh-ed25519 recipient; it goes into the restore's script only. */
async function pickSshIdentity(recipient: string): Promise<string> {
  const picked = await vscode.window.showOpenDialog({
    title: `This backup was encrypted for your SSH key ${shortKey(recipient)} — choose its private key file (sent in the restore's script only, never stored)`,
    defaultUri: vscode.Uri.file(path.join(os.homedir(), '.ssh')),
    canSelectMany: false,
    openLabel: 'Use This Key',
  });
  if (!picked?.[0]) throw new BackupError('cancelled', 'Restore cancelled; the database was not touched');
  return sshIdentity(fs.readFileSync(picked[0].fsPath, 'utf8'), recipient);
}

export async function deleteBackupFile(services: Services, arg?: unknown): Promise<void> {
  const { server, database, entry } = await resolveBackup(services, arg, 'Delete Backup', ['local', 'both']);
  await confirmModal(
    `Delete the backup ${entry.filename}?`,
    `The file and its checksum are removed from ${server.name}:${server.backupDir}. ${
      entry.location === 'both'
        ? 'The copy in S3 stays.'
        : 'There is no other copy of this backup (it is not in S3).'
    }`,
    'Delete',
  );
  await withRemote(
    services,
    server,
    { title: `Deleting ${entry.filename} on ${server.name}` },
    async ({ runner, signal }) => {
      try {
        await deleteBackup(runner, server, entry.filename, signal);
      } finally {
        afterChange(services, server);
      }
    },
  );
  const msg = `Deleted ${entry.filename} (${database.name}) from ${server.name}.`;
  services.log.info(msg);
  void vscode.window.showInformationMessage(msg);
}

export async function uploadBackupToS3(services: Services, arg?: unknown): Promise<void> {
  const { server, database, entry } = await resolveBackup(services, arg, 'Upload Backup to S3', ['local']);
  const s3 = await s3Access(services);
  if (s3.state !== 'ready')
    throw new ActionableError(
      `Cannot upload: ${s3.state === 'no-secret' ? s3.message : 'S3 storage is not configured'}.`,
      [OPEN_S3_SETTINGS],
    );
  const creds = s3.creds;
  if (!entry.hasChecksum)
    throw new ActionableError(
      `${entry.filename} has no .sha256 beside it, so a copy in S3 could never be verified — take a new backup (Back Up Now) and upload that one.`,
      [],
    );
  await withRemote(
    services,
    server,
    { title: `Uploading ${entry.filename} to S3 from ${server.name}`, secrets: [creds.secretKey] },
    async ({ runner }) => {
      const r = await runner.run(s3UploadFileScript(creds, server, database.name, entry.filename));
      afterChange(services, server);
      if (r.code === EXIT.noChecksum || r.code === EXIT.checksumMismatch)
        throw new ActionableError(
          `Upload of ${entry.filename} to S3 refused: ${stderrExcerpt(r.stderr).replace(/^infrakt: /, '')}.`,
          [],
        );
      if (r.code !== 0) throw s3Failure(r.stderr, server, `Upload of ${entry.filename} to S3 failed`);
    },
  );
  const msg = `Uploaded ${entry.filename} to S3 from ${server.name}.`;
  services.log.info(msg);
  void vscode.window.showInformationMessage(msg);
}

export async function deleteBackupFromS3(services: Services, arg?: unknown): Promise<void> {
  const { server, database, entry } = await resolveBackup(services, arg, 'Delete Backup from S3', [
    's3',
    'both',
  ]);
  const s3 = await s3Access(services);
  if (s3.state !== 'ready')
    throw new ActionableError(
      `Cannot delete from S3: ${s3.state === 'no-secret' ? s3.message : 'S3 storage is not configured'}.`,
      [OPEN_S3_SETTINGS],
    );
  const creds = s3.creds;
  await confirmModal(
    `Delete ${entry.filename} from S3?`,
    `The object and its checksum are removed from the bucket ${creds.settings.bucket}. ${
      entry.location === 'both'
        ? `The copy on ${server.name} stays.`
        : 'There is no other copy of this backup (it is not on the server).'
    }`,
    'Delete from S3',
  );
  await withRemote(
    services,
    server,
    { title: `Deleting ${entry.filename} from S3`, secrets: [creds.secretKey] },
    async ({ runner }) => {
      const r = await runner.run(s3DeleteScript(creds, server, database.name, [entry.filename]));
      afterChange(services, server);
      if (r.code !== 0) throw s3Failure(r.stderr, server, `Deleting ${entry.filename} from S3 failed`);
    },
  );
  const msg = `Deleted ${entry.filename} (${database.name}) from S3.`;
  services.log.info(msg);
  void vscode.window.showInformationMessage(msg);
}

function sha256OfFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    fs.createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * SFTP of a backup to a file here: written as .partial, checked against the
 * server's sha256, then renamed — or, with identities, decrypted into `dest`
 * (an encrypted backup). Download Backup and Restore to This Computer.
 * Returns where it was kept still encrypted (`<dest>.age`) when it was
 * encrypted for an SSH key, which the age library here cannot open.
 */
export async function fetchVerified(
  services: Services,
  { runner, progress, signal }: RemoteSession,
  server: Server,
  filename: string,
  dest: string,
  identities?: readonly string[],
): Promise<string | undefined> {
  const download = services.runner.download?.bind(services.runner);
  if (!download) throw new Error('Downloading needs the SSH transport.');
  const partial = `${dest}.partial`;
  const remote = `${server.backupDir}/${filename}`;
  const sum = await runner.run(checksumScript(server, filename));
  const recorded = parseChecksum(sum.stdout);
  const expected = recorded?.sha256;
  if (sum.code !== 0 || !expected)
    throw new Error(`${filename} has no checksum on ${server.name}; not downloaded (it cannot be verified).`);
  let shown = 0;
  try {
    await download(server, remote, partial, {
      signal,
      onProgress: (done, total) => {
        const pct = total ? Math.floor((done / total) * 100) : 0;
        if (pct > shown) {
          progress.report({ increment: pct - shown, message: `${humanSize(done)} of ${humanSize(total)}` });
          shown = pct;
        }
      },
    });
    progress.report({ message: 'checking sha256…' });
    const actual = await sha256OfFile(partial);
    if (actual !== expected)
      throw new Error(
        `The downloaded file does not match its checksum (sha256 ${actual}, expected ${expected}); it was not kept.`,
      );
    if (identities && recorded.recipient?.startsWith('ssh-')) {
      // age's SSH keys are not in the library that decrypts here: the file is kept as it is stored.
      fs.renameSync(partial, `${dest}.age`);
      return `${dest}.age`;
    }
    if (identities) {
      progress.report({ message: 'decrypting…' });
      await decryptFile(partial, dest, identities, recorded.recipient || undefined);
    } else fs.renameSync(partial, dest);
    return undefined;
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

/** SFTP to a file the user picks; written as .partial, checked against the server's sha256, then renamed. */
export async function downloadBackup(services: Services, arg?: unknown): Promise<void> {
  const { server, entry } = await resolveBackup(services, arg, 'Download Backup', ['local', 'both']);
  checkServerBackupFile(server.name, entry.filename);
  // An encrypted backup is decrypted here, after its sha256 was checked: the file saved is the plain dump.
  const encrypted = parseBackupName(entry.filename)?.encrypted === true;
  const identities = encrypted ? await recoveryKeys(services) : [];
  const picked = await vscode.window.showSaveDialog({
    title: `Download ${entry.filename}${encrypted ? ' (decrypted on this computer)' : ''}`,
    defaultUri: vscode.Uri.file(
      path.join(os.homedir(), encrypted ? entry.filename.replace(/\.age$/, '') : entry.filename),
    ),
    saveLabel: 'Download',
  });
  if (!picked) return;
  const dest = picked.fsPath;
  let savedEncrypted: string | undefined;
  await withRemote(
    services,
    server,
    { title: `Downloading ${entry.filename} from ${server.name}` },
    async (session) => {
      savedEncrypted = await fetchVerified(
        services,
        session,
        server,
        entry.filename,
        dest,
        encrypted ? identities : undefined,
      );
    },
  );
  const msg = savedEncrypted
    ? `Downloaded ${entry.filename} to ${savedEncrypted} (sha256 verified). It is encrypted for an SSH key and stays encrypted here — decrypt it with: age -d -i ~/.ssh/id_ed25519 -o ${dest} ${savedEncrypted}`
    : `Downloaded ${entry.filename} to ${dest} (sha256 verified${encrypted ? ', decrypted' : ''}).`;
  services.log.info(msg);
  void vscode.window.showInformationMessage(msg, 'Reveal').then((c) => {
    if (c) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(savedEncrypted ?? dest));
  });
}
