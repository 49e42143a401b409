// The last S3 Test Connection, kept in the extension's global state with the
// settings it tested, so the settings page can say how it went (and stop
// saying it once the settings change). It holds no secret.
import type * as vscode from 'vscode';
import { z } from 'zod';
import { S3SettingsService, type S3TestLog } from '../core/s3/settingsService';
import type { Services } from './services';

const KEY = 'infrakt.s3.lastTest';

const record = z.object({
  ok: z.boolean(),
  at: z.string(),
  server: z.string(),
  message: z.string(),
  settings: z.string(),
});

function s3TestLog(state: vscode.Memento): S3TestLog {
  return {
    get: () => {
      const r = record.safeParse(state.get(KEY));
      return r.success ? r.data : undefined;
    },
    set: (value) => state.update(KEY, value),
  };
}

/** The S3 settings as the page and the commands change them, with the last test kept beside them. */
export function s3SettingsService(services: Services): S3SettingsService {
  return new S3SettingsService(services.store, services.secrets, s3TestLog(services.context.globalState));
}
