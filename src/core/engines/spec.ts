// What one database engine is. Each engine is a folder here: its spec (this
// shape) and its shell module (dump, and the functions the remote library
// calls). Everything else iterates the registry (index.ts).
import type { ShellModule } from '../remote/script';

export interface EngineSpec {
  /** Stored in the config and in backup file names: lowercase letters. */
  readonly id: string;
  readonly label: string;
  /** Codicon of its tree rows. */
  readonly icon: string;
  /**
   * Where a database of it is: on a server reached over TCP (host, port, user,
   * password; or in a container), or a file on the server (its path; no
   * container, no password).
   */
  readonly location: 'network' | 'file';
  /** Default TCP port in host mode (0 for a file). */
  readonly defaultPort: number;
  /** User when none is set ('' = none: the server's default or no auth). */
  readonly defaultUser: string;
  /** Prefilled when Add Database asks for the user. */
  readonly suggestedUser: string;
  /** Whether a database of it has a name on its server (Redis: the whole server). */
  readonly namedDatabases: boolean;
  /** Env variable its client reads the password from (host mode). */
  readonly passwordEnv: string;
  /** Client tools on the server, each as alternatives `a|b` (the first found is used). */
  readonly tools: { readonly dump: readonly string[]; readonly restore: readonly string[] };
  /** File format our dumps are written in, and every format a restore accepts. */
  readonly format: string;
  readonly formats: readonly string[];
  /** Discovery: image names of its containers (the last path part, without tag), and tools that hint at it. */
  readonly discovery: { readonly image: RegExp; readonly tools: readonly string[] };
  /** Why a restore into this target cannot work, checked before any script is built. */
  readonly restoreRefusal?: (t: { mode: 'host' | 'container'; host: string }) => string | undefined;
  /**
   * Its shell module defines `infrakt_db_check <name>`: Provision Server's check
   * that a host-mode database of it can be backed up from the server, printing
   * step lines (`infrakt_step`) — warnings, never a failure.
   */
  readonly provisionCheck?: boolean;
  /**
   * The modes in which Restore To… can restore into a new database: its shell
   * module defines `infrakt_db_create` and `infrakt_db_drop` for them.
   */
  readonly createsDatabases?: readonly ('host' | 'container')[];
  /**
   * Verify Backup can restore a backup of it into a throwaway target on the
   * server: its shell module defines `infrakt_db_counts`, `infrakt_db_verify_open`,
   * `infrakt_db_verify_close` and optionally `infrakt_db_verify_load`
   * (remote/sh/verify.sh). `counts` names what its counts are of.
   */
  readonly verify?: { readonly counts: 'tables' | 'keys' };
  /** The shell module (infrakt_db_plan, infrakt_db_prestart, infrakt_db_dump, …). */
  readonly shell: ShellModule;
}
