// scripts/tree-state.sh is how `npm test` notices a test that wrote into the checkout
// (as the UI suite once rewrote docs/images/*.png): run here on a scratch git repository.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/paths';

const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'tree-state.sh');

describe('The work-tree check of npm test (scripts/tree-state.sh)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let repo: string;
  const state = () => execFileSync('bash', [SCRIPT, repo], { encoding: 'utf8' });
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    fs.writeFileSync(path.join(repo, file), text);
  };

  beforeEach(() => {
    tmp = tempDir('infrakt-tree-state-');
    repo = path.join(tmp.dir, 'repo');
    fs.mkdirSync(repo);
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo });
    git('init', '-q');
    write('.gitignore', 'test-results/\n');
    write('docs/images/tree.png', 'picture 1');
    git('add', '-A');
    git('commit', '-qm', 'init');
  });
  afterEach(() => tmp.cleanup());

  it('is empty for a clean checkout and ignores what tests write under test-results/', () => {
    assert.equal(state(), '');
    write('test-results/e2e/readme/tree.png', 'picture 2');
    assert.equal(state(), '');
  });

  it('changes when a tracked picture is rewritten', () => {
    write('docs/images/tree.png', 'picture 2');
    assert.match(state(), / M [0-9a-f]{40} docs\/images\/tree\.png/);
  });

  it('changes when a file that was already modified is rewritten again', () => {
    write('docs/images/tree.png', 'picture 2');
    const before = state();
    write('docs/images/tree.png', 'picture 3');
    assert.notEqual(state(), before);
  });

  it('changes when a test leaves a new file, even with a space in its name', () => {
    write('docs/images/new shot.png', 'x');
    assert.match(state(), /\?\? [0-9a-f]{40} docs\/images\/new shot\.png/);
  });

  it('prints nothing outside a git work tree', () => {
    assert.equal(execFileSync('bash', [SCRIPT, tmp.dir], { encoding: 'utf8' }), '');
  });
});
