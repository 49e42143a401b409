// Every command id and its handler, in one table.
import type { Handler } from './registry';
import {
  backUpDatabase,
  deleteBackupFile,
  deleteBackupFromS3,
  downloadBackup,
  restoreFromBackup,
  uploadBackupToS3,
} from './backup';
import { addDatabase, discoverDatabasesCommand, removeDatabase } from './database';
import { importSshConfig } from './importSshConfig';
import { openS3Settings } from './s3Settings';
import { provisionServer } from './provision';
import { resolveServer } from './targets';
import { restoreBackupTo } from './restoreTo';
import { restoreToThisComputer } from './restoreLocal';
import { scheduleBackups, setRetention, unscheduleBackups } from './schedule';
import { applyRetentionNow } from './retention';
import { exportRecoveryKey, importRecoveryKey, setUpEncryption } from './encryption';
import { testS3Connection } from './s3Test';
import { addAlertDestination, removeAlertDestination, sendTestAlert } from './alerts';
import { verifyBackupFile } from './verify';
import { addServer, editServer, forgetHostKey, removeServer, testServerConnection } from './server';

export const COMMANDS: Readonly<Record<string, Handler>> = {
  'infrakt.server.add': addServer,
  'infrakt.server.importSshConfig': importSshConfig,
  'infrakt.server.edit': editServer,
  'infrakt.server.remove': removeServer,
  'infrakt.server.test': testServerConnection,
  'infrakt.server.provision': provisionServer,
  'infrakt.server.forgetHostKey': forgetHostKey,
  'infrakt.s3.testConnection': testS3Connection,
  'infrakt.database.add': addDatabase,
  'infrakt.database.remove': removeDatabase,
  'infrakt.database.discover': discoverDatabasesCommand,
  'infrakt.settings.openS3': openS3Settings,
  'infrakt.database.backup': backUpDatabase,
  'infrakt.database.schedule': scheduleBackups,
  'infrakt.database.unschedule': unscheduleBackups,
  'infrakt.database.retention': setRetention,
  'infrakt.database.applyRetention': applyRetentionNow,
  'infrakt.alerts.add': addAlertDestination,
  'infrakt.alerts.remove': removeAlertDestination,
  'infrakt.alerts.test': sendTestAlert,
  'infrakt.encryption.setup': setUpEncryption,
  'infrakt.encryption.exportKey': exportRecoveryKey,
  'infrakt.encryption.importKey': importRecoveryKey,
  'infrakt.backup.restore': restoreFromBackup,
  'infrakt.backup.restoreTo': restoreBackupTo,
  'infrakt.backup.restoreLocal': restoreToThisComputer,
  'infrakt.backup.upload': uploadBackupToS3,
  'infrakt.backup.delete': deleteBackupFile,
  'infrakt.backup.deleteS3': deleteBackupFromS3,
  'infrakt.backup.download': downloadBackup,
  'infrakt.backup.verify': verifyBackupFile,
  'infrakt.refresh': (services) => services.tree.reload(),
  'infrakt.server.refresh': async (services, arg) =>
    services.tree.reload((await resolveServer(services, arg, 'Refresh Server')).id),
};
