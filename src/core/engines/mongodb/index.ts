import type { EngineSpec } from '../spec';
import text from './mongodb.sh';

export const mongodb = {
  id: 'mongodb',
  label: 'MongoDB',
  location: 'network',
  icon: 'symbol-namespace',
  defaultPort: 27017,
  defaultUser: '',
  suggestedUser: 'root',
  namedDatabases: true,
  // Not mongodump's own: read by our config fifo (mongodb.sh), never argv.
  passwordEnv: 'INFRAKT_MONGO_PASSWORD',
  tools: { dump: ['mongodump'], restore: ['mongorestore'] },
  format: 'archive',
  formats: ['archive'],
  discovery: { image: /^(mongo|mongodb)/, tools: ['mongodump', 'mongorestore'] },
  shell: { name: 'engine-mongodb', text },
} as const satisfies EngineSpec;
