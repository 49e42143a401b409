// A server's listing as the tree takes it (the local round trip merged with
// the shared S3 listing), for tests that want one server's view of its
// backups, local and in S3.
import {
  type ListedDatabase,
  type ServerBackups,
  S3ListingShare,
  listServerBackups,
} from '../../src/core/backup/serverListing';
import type { Server } from '../../src/core/model';
import type { RunResult } from '../../src/core/remote/runner';
import type { S3Credentials } from '../../src/core/s3/scripts';

type ListedServer = Pick<Server, 'id' | 'name' | 'backupDir'>;

/** Lists one server's backups: `run` runs each script (local listing, and the S3 listing when `creds` is given). */
export async function listBackups(
  server: ListedServer,
  databases: readonly ListedDatabase[],
  run: (script: string) => Promise<RunResult>,
  creds?: S3Credentials,
): Promise<ServerBackups> {
  const share = creds
    ? new S3ListingShare<ListedServer>({
        creds,
        prefixes: [creds.settings.prefix],
        run: (_s, script) => run(script),
      })
    : undefined;
  return (await listServerBackups(server, databases, run, share)).listing;
}
