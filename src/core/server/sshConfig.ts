// Reads an OpenSSH client config (~/.ssh/config) into server candidates for
// "Import from SSH Config". Resolution follows ssh_config(5): for each concrete
// alias, every Host block whose patterns match contributes the keywords it sets
// first (so a trailing `Host *` supplies defaults). Wildcard-only hosts and
// Match blocks are not importable; options infrakt cannot honour (ProxyJump,
// ProxyCommand, ...) are reported per host, never silently dropped.
import { type ServerInput, serverInput } from '../model';

/** Keywords that change how (or whether) a connection can be made and that infrakt does not implement. */
const UNSUPPORTED = new Map<string, string>([
  ['proxyjump', 'ProxyJump'],
  ['proxycommand', 'ProxyCommand'],
  ['certificatefile', 'CertificateFile'],
  ['hostkeyalias', 'HostKeyAlias'],
  ['pkcs11provider', 'PKCS11Provider'],
  ['securitykeyprovider', 'SecurityKeyProvider'],
  ['localforward', 'LocalForward'],
  ['remoteforward', 'RemoteForward'],
  ['dynamicforward', 'DynamicForward'],
  ['bindaddress', 'BindAddress'],
  ['bindinterface', 'BindInterface'],
  ['addressfamily', 'AddressFamily'],
  ['kexalgorithms', 'KexAlgorithms'],
  ['ciphers', 'Ciphers'],
  ['macs', 'MACs'],
  ['hostkeyalgorithms', 'HostKeyAlgorithms'],
  ['pubkeyacceptedalgorithms', 'PubkeyAcceptedAlgorithms'],
  ['pubkeyacceptedkeytypes', 'PubkeyAcceptedKeyTypes'],
  ['canonicalizehostname', 'CanonicalizeHostname'],
]);

const USED = new Set(['hostname', 'user', 'port', 'identityfile']);

export interface SshConfigHost {
  /** The alias as written after `Host`. */
  alias: string;
  hostName: string;
  user?: string;
  port?: number;
  identityFile?: string;
  /** Options set for this host that infrakt does not apply, by their usual spelling. */
  unsupported: string[];
}

export interface ParsedSshConfig {
  hosts: SshConfigHost[];
  /** Wildcard-only or negated patterns, which name no single host. */
  skippedPatterns: string[];
  /** File-level notes: Match blocks, Include lines, malformed lines (with line numbers). */
  notes: string[];
}

interface Block {
  patterns: string[];
  options: { key: string; value: string; line: number }[];
}

/** Splits one config line into keyword and value: `Key value`, `Key=value`, `Key "quoted value"`. */
function splitLine(raw: string): { key: string; value: string } | undefined {
  const line = raw.trim();
  if (!line || line.startsWith('#')) return undefined;
  const m = /^([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+)(.*)$/.exec(line);
  if (!m) return { key: line, value: '' };
  let value = m[2].trim();
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
  return { key: m[1].toLowerCase(), value };
}

function isWildcard(pattern: string): boolean {
  return /[*?]/.test(pattern) || pattern.startsWith('!');
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** ssh_config(5) Host matching: any positive pattern matches and no negated one does. */
export function hostMatches(patterns: readonly string[], alias: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globToRegExp(p.slice(1)).test(alias)) return false;
    } else if (globToRegExp(p).test(alias)) matched = true;
  }
  return matched;
}

export function parseSshConfig(text: string): ParsedSshConfig {
  // Lines before the first Host apply to every host, like `Host *` at the top.
  const blocks: Block[] = [{ patterns: ['*'], options: [] }];
  const notes: string[] = [];
  let inMatch = false;
  text.split(/\r?\n/).forEach((raw, i) => {
    const parsed = splitLine(raw);
    if (!parsed) return;
    const { key, value } = parsed;
    const line = i + 1;
    if (key === 'host') {
      inMatch = false;
      blocks.push({ patterns: value.split(/\s+/).filter(Boolean), options: [] });
    } else if (key === 'match') {
      inMatch = true;
      notes.push(`line ${line}: "Match ${value}" block not applied (infrakt reads Host blocks only)`);
    } else if (key === 'include') {
      notes.push(
        `line ${line}: "Include ${value}" not followed — import from that file's hosts is not supported`,
      );
    } else if (!value) {
      notes.push(`line ${line}: "${raw.trim()}" has no value — ignored`);
    } else if (!inMatch) {
      blocks[blocks.length - 1].options.push({ key, value, line });
    }
  });

  const seen = new Set<string>();
  const aliases: string[] = [];
  const skipped = new Set<string>();
  for (const b of blocks.slice(1)) {
    for (const p of b.patterns) {
      if (isWildcard(p)) skipped.add(p);
      else if (!seen.has(p.toLowerCase())) {
        seen.add(p.toLowerCase());
        aliases.push(p);
      }
    }
  }

  const hosts = aliases.map((alias) => {
    const first = new Map<string, string>();
    const unsupported = new Set<string>();
    for (const b of blocks) {
      if (!hostMatches(b.patterns, alias)) continue;
      for (const o of b.options) {
        const name = UNSUPPORTED.get(o.key);
        if (name && o.value.toLowerCase() !== 'none') unsupported.add(name);
        if (USED.has(o.key) && !first.has(o.key)) first.set(o.key, o.value);
      }
    }
    const port = first.has('port') ? Number(first.get('port')) : undefined;
    const host: SshConfigHost = {
      alias,
      hostName: expandTokens(first.get('hostname') ?? alias, alias),
      unsupported: [...unsupported],
    };
    if (first.has('user')) host.user = first.get('user');
    if (port !== undefined) host.port = port;
    if (first.has('identityfile')) host.identityFile = first.get('identityfile');
    return host;
  });
  return { hosts, skippedPatterns: [...skipped], notes };
}

/** `%h` in HostName stands for the alias; `%%` is a percent sign. */
function expandTokens(value: string, alias: string): string {
  return value.replace(/%([h%])/g, (_, t: string) => (t === 'h' ? alias : '%'));
}

export interface ImportDefaults {
  /** The local user name (ssh's default User). */
  localUser: string;
  /** The local home directory, for `~` in IdentityFile. */
  home: string;
  /** An ssh-agent is reachable (SSH_AUTH_SOCK). */
  agentAvailable: boolean;
  /** A default key that exists (~/.ssh/id_ed25519, id_ecdsa, id_rsa), if any. */
  defaultKey?: string;
  backupDir: string;
}

export interface ImportCandidate {
  alias: string;
  /** The server to add, or the reason it cannot be imported as written. */
  input?: ServerInput;
  problem?: string;
  /** Options infrakt will not apply (connection is made directly). */
  unsupported: string[];
}

/** A server name from an alias: letters, digits, . _ - (max 63); other characters become "-". */
export function serverNameFromAlias(alias: string): string {
  return alias
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
}

function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return `${home.replace(/\/+$/, '')}/${p.slice(2)}`;
  return p;
}

/** Turns a parsed host into a validated server input (or a reason it cannot be one). */
export function toImportCandidate(h: SshConfigHost, d: ImportDefaults): ImportCandidate {
  const keyPath = h.identityFile ? expandHome(h.identityFile, d.home) : undefined;
  let auth: ServerInput['auth'];
  let key: string | undefined;
  if (keyPath) {
    auth = 'key';
    key = keyPath;
  } else if (d.agentAvailable) {
    auth = 'agent';
  } else if (d.defaultKey) {
    auth = 'key';
    key = d.defaultKey;
  } else {
    auth = 'password';
  }
  const raw = {
    name: serverNameFromAlias(h.alias),
    host: h.hostName,
    port: h.port ?? 22,
    user: h.user ?? d.localUser,
    auth,
    keyPath: key,
    backupDir: d.backupDir,
  };
  const parsed = serverInput.safeParse(raw);
  if (!parsed.success) {
    const problem = parsed.error.issues.map((i) => i.message).join('; ');
    return { alias: h.alias, problem, unsupported: h.unsupported };
  }
  if (keyPath && /%[a-zA-Z]/.test(keyPath))
    return {
      alias: h.alias,
      problem: `IdentityFile "${h.identityFile}" uses % tokens, which infrakt does not expand`,
      unsupported: h.unsupported,
    };
  return { alias: h.alias, input: raw, unsupported: h.unsupported };
}
