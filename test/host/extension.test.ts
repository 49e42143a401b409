// The extension as VS Code loads it: from this repository (extensionDevelopmentPath).
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXTENSION_ID } from './seedData';

interface Manifest {
  activationEvents?: string[];
  contributes: { commands: { command: string; title: string }[] };
}

const ROOT = path.resolve(__dirname, '..', '..', '..');

function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not loaded`);
  return ext;
}

describe('extension in the real extension host', () => {
  it('is the one from this repository and activates', async () => {
    const ext = extension();
    assert.equal(path.resolve(ext.extensionPath), ROOT);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it('does not activate on startup (no "*" or onStartupFinished)', () => {
    const manifest = extension().packageJSON as Manifest;
    const eager = (manifest.activationEvents ?? []).filter((e) => e === '*' || e === 'onStartupFinished');
    assert.deepEqual(eager, []);
  });

  it('registers every command declared in package.json contributes.commands', async () => {
    const ext = extension();
    await ext.activate();
    const declared = (ext.packageJSON as Manifest).contributes.commands.map((c) => c.command);
    assert.ok(declared.length > 0, 'package.json declares no commands');
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = declared.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], `declared but not registered: ${missing.join(', ')}`);
  });
});
