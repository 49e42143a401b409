// A real S3 server (s3rver) on 127.0.0.1 for integration tests. It accepts the
// access key S3RVER; it does NOT verify SigV4 signatures.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import S3rver from 's3rver';
import type { S3Credentials } from '../../src/core/s3/scripts';

export const S3RVER_KEY = 'S3RVER';

export interface S3World {
  endpointUrl: string;
  port: number;
  bucket: string;
  directory: string;
  /** Object bytes as stored by s3rver, or undefined. */
  readObject(key: string): Buffer | undefined;
  listKeys(): string[];
  /** Only with `process: true`: the s3rver process, for SIGSTOP/SIGCONT (an endpoint that hangs). */
  pid?: number;
  stop(): Promise<void>;
  /** Starts again on the same port with the same data (after stop()). */
  restart(): Promise<void>;
}

/** The product's S3 settings for this server: path-style addressing (as MinIO), checksums only when required. */
export function s3rverSettings(
  world: Pick<S3World, 'endpointUrl' | 'bucket'>,
  over: Partial<S3Credentials['settings']> = {},
): S3Credentials['settings'] {
  return {
    endpointUrl: world.endpointUrl,
    bucket: world.bucket,
    region: 'us-east-1',
    accessKey: S3RVER_KEY,
    prefix: 'infrakt/backups/',
    pathStyle: true,
    checksumWhenRequired: true,
    ...over,
  };
}

export interface S3Options {
  /** A fixed data directory instead of a fresh temp dir (the sandbox); objects in it are kept. */
  directory?: string;
  /** Listen on this port instead of a free one. */
  port?: number;
  /**
   * Run s3rver in a child process (test/world/s3rverChild.ts) with the legacy
   * OpenSSL provider: it can then be SIGSTOPped, and it lists past 1,000 keys.
   */
  process?: boolean;
}

interface S3Host {
  port: number;
  pid?: number;
  close(): Promise<void>;
}

async function inProcess(directory: string, bucket: string, port: number): Promise<S3Host> {
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const info = await server.run();
  return { port: info.port, close: () => server.close() };
}

function childProcess(directory: string, bucket: string, port: number): Promise<S3Host> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--openssl-legacy-provider', path.join(__dirname, 's3rverChild.js'), directory, bucket, String(port)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise<S3Host>((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`s3rver process exited (${code}) before listening`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const { port: p } = JSON.parse(out.slice(0, nl)) as { port: number };
      child.removeAllListeners('exit');
      resolve({
        port: p,
        pid: child.pid,
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGCONT'); // a stopped process cannot act on SIGTERM
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      });
    });
  });
}

export async function startS3(bucket = 'infrakt-test', opts: S3Options = {}): Promise<S3World> {
  let directory: string;
  if (opts.directory) {
    directory = path.resolve(opts.directory);
    fs.mkdirSync(directory, { recursive: true });
  } else {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-s3-'));
  }
  const make = (p: number) => (opts.process ? childProcess : inProcess)(directory, bucket, p);
  let server = await make(opts.port ?? 0);
  const { port } = server;
  let running = true;
  const objectDir = path.join(directory, bucket);
  const world: S3World = {
    endpointUrl: `http://127.0.0.1:${port}`,
    port,
    bucket,
    directory,
    pid: server.pid,
    readObject(key) {
      // s3rver stores each object as <key>._S3rver_object
      const file = path.join(objectDir, `${key}._S3rver_object`);
      return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
    },
    listKeys() {
      const keys: string[] = [];
      const walk = (dir: string, rel: string) => {
        if (!fs.existsSync(dir)) return;
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          if (e.isDirectory()) walk(path.join(dir, e.name), `${rel}${e.name}/`);
          else if (e.name.endsWith('._S3rver_object'))
            keys.push(`${rel}${e.name.slice(0, -'._S3rver_object'.length)}`);
        }
      };
      walk(objectDir, '');
      return keys.sort();
    },
    async stop() {
      if (running) await server.close();
      running = false;
    },
    async restart() {
      if (running) return;
      server = await make(port);
      world.pid = server.pid;
      running = true;
    },
  };
  return world;
}

export async function stopS3AndRemove(world: S3World): Promise<void> {
  await world.stop();
  fs.rmSync(world.directory, { recursive: true, force: true });
}
