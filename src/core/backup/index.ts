// Databases and local backups: script builders (pure text), parsers, and the
// operations that run them through a ScriptRunner.
export * from './naming';
export * from './target';
export * from './errors';
export { backupScript } from './backupScript';
export { restoreScript, type RestoreSource } from './restoreScript';
export * from './listScript';
export * from './discover';
export * from './run';
export * from './databaseCheck';
