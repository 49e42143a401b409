// A TCP proxy on 127.0.0.1 that delays every byte by `delayMs` in each
// direction (so a round trip costs 2 × delayMs more than on loopback), keeping
// the order of chunks and of the end of each stream. It stands for a server
// far away: what costs round trips shows up as multiples of 2 × delayMs.
import * as net from 'node:net';

export interface DelayProxy {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Forwards src → dst with a fixed delay; `null` in the queue is the end of the stream. */
function delayedPipe(src: net.Socket, dst: net.Socket, delayMs: number): void {
  const queue: { due: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const pump = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].due <= now) {
      const { chunk } = queue.shift() as { due: number; chunk: Buffer | null };
      if (dst.destroyed) return;
      if (chunk === null) dst.end();
      else dst.write(chunk);
    }
    if (queue.length) timer = setTimeout(pump, Math.max(0, queue[0].due - now));
  };
  const push = (chunk: Buffer | null) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    if (!timer) timer = setTimeout(pump, Math.max(0, queue[0].due - performance.now()));
  };
  src.on('data', (d: Buffer) => push(d));
  src.on('end', () => push(null));
  src.on('close', () => {
    // A reset (not a clean end) is passed on after the same delay.
    if (!src.readableEnded) setTimeout(() => dst.destroy(), delayMs);
  });
}

export function startDelayProxy(targetPort: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    delayedPipe(client, upstream, delayMs);
    delayedPipe(upstream, client, delayMs);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        connections: () => accepted,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
