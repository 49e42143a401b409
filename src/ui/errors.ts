// User cancellation is not an error: commands throw this (or an AbortError)
// and the registry stays silent.
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
