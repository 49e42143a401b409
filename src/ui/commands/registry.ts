// One place wraps every command handler: it logs, stays silent when the user
// cancels, and shows any other error with its cause and a "Show Log" button.
import * as vscode from 'vscode';
import type { Services } from '../services';
import { ActionableError, isCancellation, messageOf } from '../errors';
import { commandTarget } from './rowArgument';

export type Handler = (services: Services, ...args: unknown[]) => unknown;

/** Runs a command by its id with the arguments VS Code passed (registered in src/ui/deferred.ts). */
export function commandRunner(
  services: Services,
  handlers: Readonly<Record<string, Handler>>,
): (id: string, args: unknown[]) => Promise<unknown> {
  return async (id, args) => {
    const handler = handlers[id];
    if (!handler) throw new Error(`infrakt has no command ${id}`);
    try {
      const [, ...rest] = args;
      return await handler(services, commandTarget(args), ...rest);
    } catch (err) {
      if (isCancellation(err)) {
        services.log.info(`${id}: cancelled`);
        return undefined;
      }
      const message = messageOf(err);
      services.log.error(`${id}: ${message}`);
      const actions = err instanceof ActionableError ? err.actions : [];
      const choice = await vscode.window.showErrorMessage(
        message,
        ...actions.map((a) => a.title),
        'Show Log',
      );
      if (choice === 'Show Log') services.log.show(true);
      const action = actions.find((a) => a.title === choice);
      if (action) await vscode.commands.executeCommand(action.command, ...(action.args ?? []));
      return undefined;
    }
  };
}
