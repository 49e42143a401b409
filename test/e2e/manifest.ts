// The package.json of the extension as installed from the VSIX (not the
// working tree's), for tests whose feature may not have shipped yet.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { world } from './world';

export interface InstalledManifest {
  version: string;
  contributes: { commands?: { command: string; title: string; category?: string }[] };
}

export function installedManifest(): InstalledManifest {
  const { extensionsDir } = world();
  const dir = fs.readdirSync(extensionsDir).find((d) => d.startsWith('infrakt.infrakt-'));
  if (!dir) throw new Error(`the VSIX is not installed in ${extensionsDir}`);
  return JSON.parse(
    fs.readFileSync(path.join(extensionsDir, dir, 'package.json'), 'utf8'),
  ) as InstalledManifest;
}

/** Skips the running test, saying why, when the installed package does not contribute `command`. */
export function requireContributed(ctx: Mocha.Context, command: string): void {
  const contributed = installedManifest().contributes.commands?.some((c) => c.command === command);
  if (!contributed) {
    console.log(`      pending: ${command} is not contributed by the installed package.json yet`);
    ctx.skip();
  }
}
