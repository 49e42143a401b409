// Copies the remote shell modules (src/**/*.sh) next to tsc's output in out/,
// where the compiled tests load them (test/support/shellText.ts).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.sh')) {
      mkdirSync(dirname(join('out', p)), { recursive: true });
      copyFileSync(p, join('out', p));
    }
  }
}
walk('src');
