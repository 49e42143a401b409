// Discover Databases: one script lists candidate containers (`docker ps`,
// engine from the image name) and host services (which dump tools exist,
// which of the default ports listen); a pure parser turns it into picks.
import { z } from 'zod';
import { ENGINE_SPECS, type Engine } from '../engines';
import { MARKS, wholeScript } from './shell';

// Files cannot be found reliably: engines whose database is a file are added by path.
const FOUND = ENGINE_SPECS.filter((e) => e.location === 'network');
const TOOLS = [...new Set(FOUND.flatMap((e) => e.discovery.tools))];

const PORTS = FOUND.map((e) => e.defaultPort);

export function discoverScript(): string {
  return wholeScript([
    'set -u',
    'if command -v docker >/dev/null 2>&1; then',
    "  if infrakt_out=$(docker ps --format '{{json .}}' 2>&1 </dev/null); then",
    `    printf '${MARKS.docker} ok\\n'`,
    `    printf '%s\\n' "$infrakt_out" | while IFS= read -r infrakt_l; do [ -z "$infrakt_l" ] || printf '${MARKS.container} %s\\n' "$infrakt_l"; done`,
    '  else',
    `    printf '${MARKS.docker} error %s\\n' "$(printf '%s' "$infrakt_out" | head -n1)"`,
    '  fi',
    'else',
    `  printf '${MARKS.docker} missing\\n'`,
    'fi',
    `for infrakt_t in ${TOOLS.join(' ')}; do`,
    `  if infrakt_p=$(command -v "$infrakt_t" 2>/dev/null); then printf '${MARKS.tool} %s %s\\n' "$infrakt_t" "$infrakt_p"; fi`,
    'done',
    // Listening TCP ports: ss when present, else /proc/net/tcp{,6} (state 0A = LISTEN).
    'if command -v ss >/dev/null 2>&1; then',
    "  infrakt_ports=$(ss -ltn 2>/dev/null | awk 'NR > 1 { print $4 }' | sed 's/.*://')",
    'else',
    '  infrakt_ports=$(for h in $(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk \'$4 == "0A" { split($2, a, ":"); print a[2] }\'); do printf \'%d\\n\' "0x$h"; done)',
    'fi',
    `for infrakt_port in ${PORTS.join(' ')}; do`,
    '  for infrakt_l in $infrakt_ports; do',
    `    if [ "$infrakt_l" = "$infrakt_port" ]; then printf '${MARKS.listen} %s\\n' "$infrakt_port"; break; fi`,
    '  done',
    'done',
    'exit 0',
  ]);
}

export interface DiscoveredContainer {
  container: string;
  image: string;
  engine: Engine;
  state: string;
}

export interface DiscoveredHostService {
  engine: Engine;
  port: number;
  listening: boolean;
  /** Dump/restore tools found on the server for this engine. */
  tools: string[];
}

export interface Discovery {
  docker: 'ok' | 'missing' | 'error';
  dockerError?: string;
  containers: DiscoveredContainer[];
  /** Engines whose port listens or whose dump tool exists. */
  hostServices: DiscoveredHostService[];
}

/** Engine from an image reference such as `postgres:16`, `bitnami/redis`, `mariadb:11`. */
export function engineFromImage(image: string): Engine | undefined {
  const repo = image
    .toLowerCase()
    .split('@')[0]
    .replace(/:[^/]*$/, '');
  const last = repo.split('/').pop() ?? '';
  return FOUND.find((e) => e.discovery.image.test(last))?.id;
}

const psRow = z
  .object({
    Names: z.string(),
    Image: z.string(),
    State: z.string().optional(),
    Status: z.string().optional(),
  })
  .loose();

export function parseDiscovery(stdout: string): Discovery {
  const result: Discovery = { docker: 'missing', containers: [], hostServices: [] };
  const tools = new Set<string>();
  const listening = new Set<number>();
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${MARKS.docker} `)) {
      const [status, ...rest] = line.slice(MARKS.docker.length + 1).split(' ');
      result.docker = status === 'ok' ? 'ok' : status === 'error' ? 'error' : 'missing';
      if (status === 'error') result.dockerError = rest.join(' ');
    } else if (line.startsWith(`${MARKS.container} `)) {
      let json: unknown;
      try {
        json = JSON.parse(line.slice(MARKS.container.length + 1));
      } catch {
        continue;
      }
      const row = psRow.safeParse(json);
      if (!row.success) continue;
      const engine = engineFromImage(row.data.Image);
      if (!engine) continue;
      result.containers.push({
        container: row.data.Names.split(',')[0],
        image: row.data.Image,
        engine,
        state: row.data.State ?? row.data.Status ?? '',
      });
    } else if (line.startsWith(`${MARKS.tool} `)) {
      tools.add(line.slice(MARKS.tool.length + 1).split(' ')[0]);
    } else if (line.startsWith(`${MARKS.listen} `)) {
      listening.add(Number(line.slice(MARKS.listen.length + 1)));
    }
  }
  for (const spec of FOUND) {
    const engine = spec.id;
    const found = spec.discovery.tools.filter((t) => tools.has(t));
    const port = spec.defaultPort;
    if (found.length > 0 || listening.has(port)) {
      result.hostServices.push({ engine, port, listening: listening.has(port), tools: found });
    }
  }
  return result;
}

/** A valid database name suggested from a container name (`infrakt-db-shop` → `shop`). */
export function suggestName(raw: string): string {
  const base = raw
    .replace(/^infrakt-db-/, '')
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return (base || 'db').slice(0, 63);
}
