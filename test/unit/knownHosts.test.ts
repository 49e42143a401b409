import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { knownHostKeys, knownHostsName } from '../../src/core/server/knownHosts';

describe('~/.ssh/known_hosts', () => {
  let dir: string;
  let pub: string;
  let fingerprint: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-kh-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host')]);
    pub = fs.readFileSync(path.join(dir, 'host.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    fingerprint = execFileSync('ssh-keygen', ['-lf', path.join(dir, 'host.pub'), '-E', 'sha256'], {
      encoding: 'utf8',
    }).split(' ')[1];
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds plain entries by name, [host]:port for other ports, and patterns; fingerprints as ssh-keygen prints them', () => {
    const text = [
      '# comment',
      `web-1.example.com,203.0.113.7 ${pub}`,
      `[127.0.0.1]:2222 ${pub}`,
      `*.lan ${pub}`,
      `@cert-authority *.example.com ${pub}`,
    ].join('\n');
    assert.deepEqual(knownHostKeys(text, '203.0.113.7', 22), [{ keyType: 'ssh-ed25519', fingerprint }]);
    assert.equal(knownHostKeys(text, '127.0.0.1', 2222).length, 1);
    assert.equal(knownHostKeys(text, '127.0.0.1', 22).length, 0);
    assert.equal(knownHostKeys(text, 'nas.lan', 22).length, 1);
    assert.equal(
      knownHostKeys(text, 'other.example.com', 22).length,
      0,
      '@cert-authority never trusts a key',
    );
    assert.equal(knownHostsName('h', 2222), '[h]:2222');
  });

  it('matches hashed entries (ssh-keygen -H)', () => {
    const file = path.join(dir, 'known_hosts');
    fs.writeFileSync(file, `[127.0.0.1]:2222 ${pub}\nweb-1 ${pub}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const hashed = fs.readFileSync(file, 'utf8');
    assert.match(hashed, /^\|1\|/);
    assert.deepEqual(knownHostKeys(hashed, '127.0.0.1', 2222), [{ keyType: 'ssh-ed25519', fingerprint }]);
    assert.equal(knownHostKeys(hashed, 'web-1', 22).length, 1);
    assert.equal(knownHostKeys(hashed, 'web-2', 22).length, 0);
  });

  it('returns a key on a @revoked line marked revoked (never as a trusted key)', () => {
    const text = [`@revoked [127.0.0.1]:2222 ${pub}`, `@revoked\tweb-1 ${pub}`, `web-2 ${pub}`].join('\n');
    assert.deepEqual(knownHostKeys(text, '127.0.0.1', 2222), [
      { keyType: 'ssh-ed25519', fingerprint, revoked: true },
    ]);
    assert.deepEqual(knownHostKeys(text, 'web-1', 22), [
      { keyType: 'ssh-ed25519', fingerprint, revoked: true },
    ]);
    assert.deepEqual(knownHostKeys(text, 'web-2', 22), [{ keyType: 'ssh-ed25519', fingerprint }]);
  });
});
