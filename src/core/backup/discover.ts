// Discover Databases: one script (remote/sh/discover.sh) lists candidate
// containers (`docker ps`, engine from the image name) and host services (which
// dump tools exist, which of the default ports listen); a pure parser turns it
// into picks.
import { z } from 'zod';
import { ENGINE_SPECS, type Engine } from '../engines';
import { SH } from '../remote/modules';
import { MARKS } from '../remote/protocol';
import { remoteScript } from '../remote/script';

// Files cannot be found reliably: engines whose database is a file are added by path.
const FOUND = ENGINE_SPECS.filter((e) => e.location === 'network');

export function discoverScript(): string {
  return remoteScript({
    vars: {
      infrakt_discover_tools: [...new Set(FOUND.flatMap((e) => e.discovery.tools))],
      infrakt_discover_ports: [...new Set(FOUND.map((e) => String(e.defaultPort)))],
    },
    modules: [SH.discover],
    call: 'infrakt_discover',
  });
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
