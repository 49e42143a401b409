// Databases and local backups: script builders (pure text), parsers, and the
// operations that run them through a ScriptRunner.
export { shellQuote, MARKS } from './shell';
export * from './naming';
export * from './target';
export * from './errors';
export { type Sink, type BackupScriptOptions, backupScript } from './backupScript';
export { type RestoreOptions, restoreScript, checkBackupFile } from './restoreScript';
export * from './listScript';
export * from './discover';
export * from './run';
