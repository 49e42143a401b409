// A real S3 server (s3rver) on 127.0.0.1 for integration tests. It accepts the
// access key S3RVER; it does NOT verify SigV4 signatures (see TEST-WORLD.md).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import S3rver from 's3rver';
import type { S3Credentials } from '../../src/core/s3Scripts';

export const S3RVER_KEY = 'S3RVER';

export interface S3World {
  endpointUrl: string;
  port: number;
  bucket: string;
  directory: string;
  /** Object bytes as stored by s3rver, or undefined. */
  readObject(key: string): Buffer | undefined;
  listKeys(): string[];
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
}

export async function startS3(bucket = 'infrakt-test', opts: S3Options = {}): Promise<S3World> {
  let directory: string;
  if (opts.directory) {
    directory = path.resolve(opts.directory);
    fs.mkdirSync(directory, { recursive: true });
  } else {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-s3-'));
  }
  const make = (port: number) =>
    new S3rver({ port, address: '127.0.0.1', directory, silent: true, configureBuckets: [{ name: bucket }] });
  let server = make(opts.port ?? 0);
  const { port } = await server.run();
  let running = true;
  const objectDir = path.join(directory, bucket);
  const world: S3World = {
    endpointUrl: `http://127.0.0.1:${port}`,
    port,
    bucket,
    directory,
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
      server = make(port);
      await server.run();
      running = true;
    },
  };
  return world;
}

export async function stopS3AndRemove(world: S3World): Promise<void> {
  await world.stop();
  fs.rmSync(world.directory, { recursive: true, force: true });
}
