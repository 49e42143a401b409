// User cancellation is not an error: commands throw this (or an AbortError)
// and the registry stays silent. Errors with next steps, and the common ones.
import type { Server } from '../core/model';
import type { TreeNode } from '../core/treeRows';

export class UserCancelled extends Error {
  constructor() {
    super('Cancelled');
    this.name = 'UserCancelled';
  }
}

export function isCancellation(err: unknown): boolean {
  return (
    err instanceof UserCancelled ||
    (err instanceof Error && (err.name === 'AbortError' || err.name === 'Canceled'))
  );
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error whose message offers next steps as buttons (e.g. "Provision Server"). */
export class ActionableError extends Error {
  constructor(
    message: string,
    readonly actions: readonly { title: string; command: string; args?: unknown[] }[],
  ) {
    super(message);
    this.name = 'ActionableError';
  }
}

export type NextStep = ActionableError['actions'][number];

/** The next step when S3 settings are missing or wrong. */
export const OPEN_S3_SETTINGS: NextStep = { title: 'Open S3 Settings', command: 'infrakt.settings.openS3' };

/** The next step when a tool is missing on a server. */
export function provisionStep(server: Server): NextStep {
  const node: TreeNode = { kind: 'server', server, state: { kind: 'idle' } };
  return { title: 'Provision Server', command: 'infrakt.server.provision', args: [node] };
}
