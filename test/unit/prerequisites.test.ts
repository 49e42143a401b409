// What a fresh Debian/Ubuntu needs before the README's commands run: one Node.js rule,
// stated alike everywhere, and scripts/ensure-deps.sh installing what the code-server
// install compiles with. The script runs for real, with stub apt-get/dpkg-query/id.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/paths';
import { makeBin } from '../support/stubBin';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

function requiredMajor(script: string): string {
  const m = /^REQUIRED_NODE_MAJOR=(\d+)/m.exec(read(script));
  assert.ok(m, `${script} sets no REQUIRED_NODE_MAJOR`);
  return m[1];
}

interface Run {
  code: number | null;
  out: string;
  aptCalls: string[];
}

/** Runs a copy of ensure-deps.sh in a scratch checkout, as root, with `node` and the installed tools chosen. */
function runEnsureDeps(o: { nodeVersion: string; installed: string[] }): Run {
  const { dir, cleanup } = tempDir('infrakt-ensure-deps-');
  try {
    fs.mkdirSync(path.join(dir, 'repo', 'scripts'), { recursive: true });
    fs.copyFileSync(
      path.join(ROOT, 'scripts', 'ensure-deps.sh'),
      path.join(dir, 'repo', 'scripts', 'ensure-deps.sh'),
    );
    fs.writeFileSync(path.join(dir, 'repo', 'package-lock.json'), '{}');
    fs.mkdirSync(path.join(dir, 'repo', 'node_modules'));
    fs.writeFileSync(path.join(dir, 'repo', 'node_modules', '.package-lock.json'), '{}');
    const future = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, 'repo', 'node_modules', '.package-lock.json'), future, future);
    const aptLog = path.join(dir, 'apt.log');
    const major = o.nodeVersion.split('.')[0];
    const stubs: Record<string, string> = {
      node: `case "$1" in -v) echo v${o.nodeVersion} ;; *) echo ${major} ;; esac`,
      id: 'echo 0',
      'dpkg-query': "printf 'install ok installed'",
      'apt-get': `echo "$*" >>'${aptLog}'`,
      service: 'exit 0',
      npm: 'echo "npm must not run here" >&2; exit 1',
    };
    for (const tool of o.installed) stubs[tool] = 'exit 0';
    const bin = makeBin(path.join(dir, 'bin'), { real: ['dirname', 'grep'], stubs });
    const r = spawnSync('/bin/bash', [path.join(dir, 'repo', 'scripts', 'ensure-deps.sh'), '--debian'], {
      env: { PATH: bin },
      encoding: 'utf8',
    });
    const aptCalls = fs.existsSync(aptLog) ? fs.readFileSync(aptLog, 'utf8').trim().split('\n') : [];
    return { code: r.status, out: `${r.stdout}${r.stderr}`, aptCalls };
  } finally {
    cleanup();
  }
}

describe('Prerequisites on a fresh Debian/Ubuntu', () => {
  it('states one Node.js version alike in the README, package.json engines and both scripts', () => {
    const ensureDeps = requiredMajor('scripts/ensure-deps.sh');
    assert.equal(requiredMajor('scripts/install-code-server.sh'), ensureDeps);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    assert.equal(engines, `${ensureDeps}.x`);
    const quickStart = read('README.md').split('## Quick start')[1]?.split('\n## ')[0] ?? '';
    const stated = [...quickStart.matchAll(/Node\.js (\d+)(\.x|\+)?/g)].map((m) => m[0]);
    assert.deepEqual(stated, [`Node.js ${ensureDeps}.x`], `README quick start says ${stated.join(', ')}`);
  });

  it('installs make, g++ and python3 for the code-server build when they are missing', () => {
    const r = runEnsureDeps({ nodeVersion: '20.19.0', installed: [] });
    assert.equal(r.code, 0, r.out);
    const install = r.aptCalls.find((c) => c.includes('install'));
    assert.ok(install, `no apt-get install (calls: ${r.aptCalls.join(' | ')})\n${r.out}`);
    for (const pkg of ['make', 'g++', 'python3']) assert.ok(install.split(' ').includes(pkg), install);
  });

  it('installs nothing more when the build tools are there', () => {
    const r = runEnsureDeps({ nodeVersion: '20.19.0', installed: ['make', 'g++', 'python3'] });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.aptCalls, []);
  });

  it('checks every tool install-code-server.sh asks for', () => {
    const m = /for tool in ([^;]+); do/.exec(read('scripts/install-code-server.sh'));
    assert.ok(m, 'install-code-server.sh lists no tools');
    const r = runEnsureDeps({ nodeVersion: '20.19.0', installed: [] });
    const install = r.aptCalls.find((c) => c.includes('install'))?.split(' ') ?? [];
    const packageOf: Record<string, string> = { rg: 'ripgrep' };
    const ensured = read('scripts/ensure-deps.sh');
    for (const tool of m[1].trim().split(/\s+/)) {
      const pkg = packageOf[tool] ?? tool;
      assert.ok(
        install.includes(pkg) || new RegExp(`DEBIAN_PACKAGES=\\([^)]*\\b${pkg}\\b`).test(ensured),
        `ensure-deps.sh does not install ${pkg} (for ${tool})`,
      );
    }
  });

  it('refuses another Node.js major at once, saying why', () => {
    const r = runEnsureDeps({ nodeVersion: '22.11.0', installed: ['make', 'g++', 'python3'] });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /needs Node\.js 20\.x \(this is v22\.11\.0\): code-server 4\.100\.3/);
    assert.deepEqual(r.aptCalls, []);
  });
});
