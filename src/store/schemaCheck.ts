// Whether a store file has every table and column the migrations make: a file
// that claims this schema version but lacks some is as unusable as a corrupt one.
import type { Database as SqlDatabase, SqlJsStatic } from 'sql.js';
import { MIGRATIONS } from './migrations';

/** Tables and their columns, as the migrations make them. */
type Schema = Map<string, Set<string>>;
let schemaOfMigrations: Schema | undefined;

function schemaOf(db: SqlDatabase): Schema {
  const out: Schema = new Map();
  const tables = db.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  for (const [name] of tables[0]?.values ?? []) {
    const cols = db.exec(`PRAGMA table_info("${String(name).replace(/"/g, '""')}")`);
    out.set(String(name), new Set((cols[0]?.values ?? []).map((c) => String(c[1]))));
  }
  return out;
}

/** The schema a fresh store gets (computed once, in memory). */
function expectedSchema(sql: SqlJsStatic): Schema {
  if (!schemaOfMigrations) {
    const fresh = new sql.Database();
    try {
      for (const m of MIGRATIONS) fresh.run(m);
      schemaOfMigrations = schemaOf(fresh);
    } finally {
      fresh.close();
    }
  }
  return schemaOfMigrations;
}

/** "the table servers", "the column servers.port": what `db` lacks of `expected`. */
export function missingColumns(sql: SqlJsStatic, db: SqlDatabase): string[] {
  const expected = expectedSchema(sql);
  const actual = schemaOf(db);
  const missing: string[] = [];
  for (const [table, cols] of expected) {
    const have = actual.get(table);
    if (!have) {
      missing.push(`the table ${table}`);
      continue;
    }
    for (const c of cols) if (!have.has(c)) missing.push(`the column ${table}.${c}`);
  }
  return missing;
}
