// Every command id and its handler, in one table.
import type { Handler } from './registry';
import { addDatabase, removeDatabase } from './database';
import { addServer, editServer, removeServer } from './server';

export const COMMANDS: Readonly<Record<string, Handler>> = {
  'infrakt.server.add': addServer,
  'infrakt.server.edit': editServer,
  'infrakt.server.remove': removeServer,
  'infrakt.database.add': addDatabase,
  'infrakt.database.remove': removeDatabase,
  'infrakt.refresh': (services) => services.tree.refresh(),
};
