import type { EngineSpec } from '../spec';
import text from './sqlite.sh';

export const sqlite = {
  id: 'sqlite',
  label: 'SQLite',
  location: 'file',
  icon: 'file-binary',
  defaultPort: 0,
  defaultUser: '',
  suggestedUser: '',
  namedDatabases: false,
  passwordEnv: '',
  tools: { dump: ['sqlite3'], restore: ['sqlite3'] },
  format: 'sqlite',
  formats: ['sqlite'],
  // A file cannot be found reliably: it is added by its path.
  discovery: { image: /(?!)/, tools: [] },
  createsDatabases: ['host'],
  verify: { counts: 'tables' },
  shell: { name: 'engine-sqlite', text },
} as const satisfies EngineSpec;
