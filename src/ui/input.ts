// Small wrappers over input boxes and picks: validated as typed, and Escape
// becomes UserCancelled so the registry stays quiet.
import * as vscode from 'vscode';
import { passwordProblem, typedValue } from '../core/model';
import { UserCancelled } from './errors';

export interface TextStep {
  title: string;
  prompt: string;
  value?: string;
  placeHolder?: string;
  password?: boolean;
  validate?: (value: string) => string | undefined;
}

export async function askText(step: TextStep): Promise<string> {
  const value = await vscode.window.showInputBox({
    title: step.title,
    prompt: step.prompt,
    value: step.value,
    placeHolder: step.placeHolder,
    password: step.password,
    ignoreFocusOut: true,
    validateInput: (v) => (step.password ? passwordProblem(v) : undefined) ?? step.validate?.(v),
  });
  if (value === undefined) throw new UserCancelled();
  return typedValue(value, step.password);
}

export async function pickOne<T extends vscode.QuickPickItem>(
  items: readonly T[],
  options: { title: string; placeHolder?: string },
): Promise<T> {
  const picked = await vscode.window.showQuickPick(items, { ...options, ignoreFocusOut: true });
  if (!picked) throw new UserCancelled();
  return picked;
}

export async function confirmModal(message: string, detail: string, action: string): Promise<void> {
  const answer = await vscode.window.showWarningMessage(message, { modal: true, detail }, action);
  if (answer !== action) throw new UserCancelled();
}
