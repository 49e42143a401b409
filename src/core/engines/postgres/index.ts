import type { EngineSpec } from '../spec';
import text from './postgres.sh';

export const postgres = {
  id: 'postgres',
  label: 'PostgreSQL',
  location: 'network',
  icon: 'database',
  defaultPort: 5432,
  defaultUser: 'postgres',
  suggestedUser: 'postgres',
  namedDatabases: true,
  passwordEnv: 'PGPASSWORD',
  tools: { dump: ['pg_dump'], restore: ['pg_restore', 'psql'] },
  // `sql` is a plain dump, restored with psql.
  format: 'dump',
  formats: ['dump', 'sql'],
  discovery: {
    image: /^(postgres|postgresql|postgis|timescaledb(-ha)?|pgvector|supabase-postgres)/,
    tools: ['pg_dump', 'pg_restore', 'psql'],
  },
  // pg_dump refuses to dump a newer server: provisioning compares the versions.
  provisionCheck: true,
  createsDatabases: ['host', 'container'],
  verify: { counts: 'tables' },
  shell: { name: 'engine-postgres', text },
} as const satisfies EngineSpec;
