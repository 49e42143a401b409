// Backup file names: <server>_<db>_<engine>_<UTC timestamp>[-<n>].<format>.<compression>[.age]
// The timestamp is taken on the server at run time (so cron runs name their
// files the same way); -<n> tells apart backups started within the same second;
// .age marks a backup encrypted (after compression) to an age recipient.
import { ENGINES, ENGINE_SPECS, type Engine, engineSpec } from '../engines';

export const COMPRESSIONS = ['zst', 'gz'] as const;
export type CompressionExt = (typeof COMPRESSIONS)[number];

/** What the dump is before compression: every format of every engine. */
export const FORMATS = [...new Set(ENGINE_SPECS.flatMap((e) => e.formats))];
export type DumpFormat = string;

export const CHECKSUM_EXT = '.sha256';

/** The last part of an encrypted backup's name. */
export const ENCRYPTED_EXT = '.age';

const TAIL_RE = new RegExp(
  `^(.+)_(${ENGINES.join('|')})_(\\d{8}T\\d{6}Z)(?:-(\\d{1,4}))?\\.(${FORMATS.join('|')})\\.(${COMPRESSIONS.join('|')})(\\.age)?$`,
);

export interface ParsedBackupName {
  filename: string;
  /** `<server>_<db>`: split it with the server's name (names may contain `_`). */
  prefix: string;
  engine: Engine;
  /** UTC time the backup started, from the name. */
  startedAt: Date;
  /** 1 for the first backup of that second, 2.. for the next ones. */
  sequence: number;
  format: DumpFormat;
  compression: CompressionExt;
  /** Encrypted with age (the name ends in .age). */
  encrypted: boolean;
}

function timestampToDate(ts: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(ts);
  if (!m) return new Date(NaN);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

/** Parses a backup file name; undefined for anything that is not one (partials, checksums, strangers). */
export function parseBackupName(filename: string): ParsedBackupName | undefined {
  const m = TAIL_RE.exec(filename);
  if (!m) return undefined;
  const engine = m[2] as Engine;
  const format = m[5] as DumpFormat;
  if (!engineSpec(engine).formats.includes(format)) return undefined;
  const startedAt = timestampToDate(m[3]);
  if (Number.isNaN(startedAt.getTime())) return undefined;
  return {
    filename,
    prefix: m[1],
    engine,
    startedAt,
    sequence: m[4] ? Number(m[4]) : 1,
    format,
    compression: m[6] as CompressionExt,
    encrypted: m[7] !== undefined,
  };
}

/** `<server>_<db>_<engine>_`: every backup of that database starts with it. */
export function backupPrefix(serverName: string, databaseName: string, engine: Engine): string {
  return `${serverName}_${databaseName}_${engine}_`;
}

/** Name for a given start time (tests and previews; scripts compute the timestamp on the server). */
export function backupFilename(
  serverName: string,
  databaseName: string,
  engine: Engine,
  startedAt: Date,
  compression: CompressionExt,
  sequence = 1,
): string {
  const ts = startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  const seq = sequence > 1 ? `-${sequence}` : '';
  return `${backupPrefix(serverName, databaseName, engine)}${ts}${seq}.${engineSpec(engine).format}.${compression}`;
}
