// What a command was run on. A row's menu passes the row's element — which VS
// Code looks up when the command starts, and finds missing when the tree was
// refreshed and that row's parent has not answered again yet: the command then
// gets `undefined` where its row should be. The palette passes nothing.

/** Stands for "run from a row that VS Code could not hand over". */
export const ROW_NOT_HANDED_OVER: unique symbol = Symbol('row not handed over');

/** The first argument of a command, or ROW_NOT_HANDED_OVER when it was there but empty. */
export function commandTarget(args: readonly unknown[]): unknown {
  return args.length > 0 && args[0] === undefined ? ROW_NOT_HANDED_OVER : args[0];
}

/** The error for a row that was not handed over: never a picker that may choose another one. */
export function rowNotHandedOver(title: string): Error {
  return new Error(
    `The tree was reloading when ${title} was chosen, so infrakt could not tell which row it was for — choose ${title} on the row again.`,
  );
}
