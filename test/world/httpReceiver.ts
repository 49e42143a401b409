// A real HTTP receiver on 127.0.0.1 for alerts: it records the method, path,
// headers and body of every request, and answers each path with a chosen
// status (default 200), after a delay if asked — or holds the request open, to
// test a receiver that hangs.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  /** The path with its query string. */
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface HttpReceiver {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Answer requests whose path starts with this prefix with this status ('hang': never answer). */
  respond(pathPrefix: string, status: number | 'hang', body?: string, delayMs?: number): void;
  /** Requests whose path starts with the prefix. */
  to(pathPrefix: string): ReceivedRequest[];
  clear(): void;
  stop(): Promise<void>;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const requests: ReceivedRequest[] = [];
  const answers: { prefix: string; status: number | 'hang'; body: string; delayMs: number }[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      requests.push({
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      const a = answers.find((x) => path.startsWith(x.prefix));
      if (a?.status === 'hang') {
        hanging.add(res);
        return;
      }
      const status = typeof a?.status === 'number' ? a.status : 200;
      const answer = () => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(a?.body ?? 'ok');
      };
      if (a?.delayMs) setTimeout(answer, a.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    respond(prefix, status, body = '', delayMs = 0) {
      answers.unshift({ prefix, status, body, delayMs });
    },
    to: (prefix) => requests.filter((r) => r.path.startsWith(prefix)),
    clear() {
      requests.length = 0;
      answers.length = 0;
    },
    async stop() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
