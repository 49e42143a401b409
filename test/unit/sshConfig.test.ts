import * as assert from 'node:assert/strict';
import {
  hostMatches,
  parseSshConfig,
  serverNameFromAlias,
  toImportCandidate,
} from '../../src/core/server/sshConfig';

const CONFIG = `
# personal servers
Host web-1 web1.alias
    HostName 203.0.113.10
    User deploy
    Port 2222
    IdentityFile ~/.ssh/web_ed25519

Host db
  HostName=db.internal.example.com
  ProxyJump bastion
  IdentityFile "~/.ssh/my key"

Host bastion
  HostName bastion.example.com

Host *.example.org !skip.example.org
  User wild

Match host foo
  User matched

Include ~/.ssh/conf.d/*

Host *
  User fallback
  ServerAliveInterval 30
  Port 22
`;

const DEFAULTS = {
  localUser: 'me',
  home: '/home/me',
  agentAvailable: false,
  backupDir: '/opt/infrakt/backups',
};

describe('SSH config import', () => {
  it('reads Host blocks with HostName, User, Port, IdentityFile; first value wins, Host * supplies defaults', () => {
    const { hosts } = parseSshConfig(CONFIG);
    assert.deepEqual(
      hosts.map((h) => h.alias),
      ['web-1', 'web1.alias', 'db', 'bastion'],
    );
    const web = hosts[0];
    assert.deepEqual(
      { host: web.hostName, user: web.user, port: web.port, key: web.identityFile, u: web.unsupported },
      { host: '203.0.113.10', user: 'deploy', port: 2222, key: '~/.ssh/web_ed25519', u: [] },
    );
    const db = hosts[2];
    assert.equal(db.hostName, 'db.internal.example.com');
    assert.equal(db.user, 'fallback');
    assert.equal(db.port, 22);
    assert.equal(db.identityFile, '~/.ssh/my key');
    assert.equal(hosts[3].hostName, 'bastion.example.com');
  });

  it('skips wildcard hosts and reports Match/Include instead of dropping them silently', () => {
    const parsed = parseSshConfig(CONFIG);
    assert.deepEqual(parsed.skippedPatterns.sort(), ['!skip.example.org', '*', '*.example.org'].sort());
    assert.ok(
      parsed.notes.some((n) => /Match host foo.*not applied/.test(n)),
      parsed.notes.join('\n'),
    );
    assert.ok(
      parsed.notes.some((n) => /Include .* not followed/.test(n)),
      parsed.notes.join('\n'),
    );
    // The Match block's User must not leak into the next hosts.
    assert.ok(parsed.hosts.every((h) => h.user !== 'matched'));
  });

  it('reports ProxyJump on the host that uses it', () => {
    const { hosts } = parseSshConfig(CONFIG);
    assert.deepEqual(hosts.find((h) => h.alias === 'db')?.unsupported, ['ProxyJump']);
    assert.deepEqual(hosts.find((h) => h.alias === 'bastion')?.unsupported, []);
    const viaStar = parseSshConfig('Host a\n  HostName a.example\nHost *\n  ProxyCommand nc %h %p\n');
    assert.deepEqual(viaStar.hosts[0].unsupported, ['ProxyCommand']);
    assert.deepEqual(parseSshConfig('Host a\n ProxyJump none\n').hosts[0].unsupported, []);
  });

  it('matches patterns like ssh does (globs, negation, case-insensitive)', () => {
    assert.ok(hostMatches(['*.example.org'], 'a.example.org'));
    assert.ok(!hostMatches(['*.example.org', '!skip.example.org'], 'skip.example.org'));
    assert.ok(hostMatches(['web-?'], 'WEB-1'));
    assert.ok(!hostMatches(['!web-1'], 'db'));
  });

  it('makes validated server inputs: ~ expanded, auth from IdentityFile, agent, default key or password', () => {
    const { hosts } = parseSshConfig(CONFIG);
    const web = toImportCandidate(hosts[0], DEFAULTS);
    assert.deepEqual(web.input, {
      name: 'web-1',
      host: '203.0.113.10',
      port: 2222,
      user: 'deploy',
      auth: 'key',
      keyPath: '/home/me/.ssh/web_ed25519',
      backupDir: '/opt/infrakt/backups',
    });
    const bare = parseSshConfig('Host plain\n').hosts[0];
    assert.equal(toImportCandidate(bare, { ...DEFAULTS, agentAvailable: true }).input?.auth, 'agent');
    const withKey = toImportCandidate(bare, { ...DEFAULTS, defaultKey: '/home/me/.ssh/id_rsa' }).input;
    assert.equal(withKey?.auth, 'key');
    assert.equal(withKey?.keyPath, '/home/me/.ssh/id_rsa');
    const none = toImportCandidate(bare, DEFAULTS).input;
    assert.equal(none?.auth, 'password');
    assert.equal(none?.user, 'me');
    assert.equal(none?.host, 'plain');
  });

  it('gives a reason instead of a server when a value is invalid', () => {
    const bad = parseSshConfig('Host weird\n  Port 99999\nHost tok\n  IdentityFile ~/.ssh/%r_key\n').hosts;
    const port = toImportCandidate(bad[0], DEFAULTS);
    assert.equal(port.input, undefined);
    assert.match(port.problem ?? '', /Port must be 1–65535/);
    assert.match(toImportCandidate(bad[1], DEFAULTS).problem ?? '', /% tokens/);
  });

  it('turns aliases into valid server names, and %h in HostName into the alias', () => {
    assert.equal(serverNameFromAlias('my host@prod'), 'my-host-prod');
    assert.equal(serverNameFromAlias('_x'), 'x');
    assert.equal(parseSshConfig('Host box\n  HostName %h.lan\n').hosts[0].hostName, 'box.lan');
  });
});
