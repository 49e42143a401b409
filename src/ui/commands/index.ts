// Every command id and its handler, in one table.
import type { Handler } from './registry';
import { addDatabase, removeDatabase } from './database';
import { openS3Settings } from './s3Settings';
import { addServer, editServer, removeServer } from './server';

export const COMMANDS: Readonly<Record<string, Handler>> = {
  'infrakt.server.add': addServer,
  'infrakt.server.edit': editServer,
  'infrakt.server.remove': removeServer,
  'infrakt.database.add': addDatabase,
  'infrakt.database.remove': removeDatabase,
  'infrakt.settings.openS3': openS3Settings,
  'infrakt.refresh': (services) => services.tree.refresh(),
};
