// A signature-checking S3 server for integration tests: Ceph's RADOS Gateway
// (the software behind DigitalOcean Spaces, Hetzner, OVH and most self-hosted
// S3), as a throwaway one-monitor, one-OSD cluster on 127.0.0.1 with all its
// state in one temp dir (the OSD keeps objects in memory: memstore). cephx is
// off — it guards only the daemons' own traffic; RGW still verifies SigV4 for
// S3 clients and answers errors as real providers do (including an empty
// <Message>, on which awscli crashes before it prints the code).
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { S3Credentials } from '../../src/core/s3/scripts';
import { freePort } from './databases';
import { readPid } from './processes';
import { s3rverSettings } from './s3';

const run = promisify(execFile);

export const RGW_ACCESS_KEY = 'INFRAKTRGWACCESSKEY1';
export const RGW_SECRET_KEY = 'infrakt-rgw-secret-CANARY-0b1c2d3e4f';

export interface RgwWorld {
  endpointUrl: string;
  port: number;
  bucket: string;
  directory: string;
  /** Runs radosgw-admin against this cluster; resolves with its stdout. */
  admin(args: readonly string[]): Promise<string>;
  /** The radosgw process, for SIGSTOP/SIGCONT. */
  pid(): number | undefined;
  stop(): Promise<void>;
}

/** The product's S3 settings for this gateway: as for s3rver (path-style, checksums only when required), with its own key. */
export function rgwSettings(
  world: Pick<RgwWorld, 'endpointUrl' | 'bucket'>,
  over: Partial<S3Credentials['settings']> = {},
): S3Credentials['settings'] {
  return s3rverSettings(world, { accessKey: RGW_ACCESS_KEY, ...over });
}

/** Whether this machine has the Ceph packages (ensure-deps installs them). */
export function rgwInstalled(): boolean {
  return ['/usr/bin/radosgw', '/usr/bin/ceph-mon', '/usr/bin/ceph-osd'].every((p) => fs.existsSync(p));
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Starts a daemon that forks: waits for the parent to exit, its stdio kept off our pipes. */
function daemon(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

function kill(pid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number | undefined, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (pid && kill(pid, 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  kill(pid, 'SIGKILL');
}

export async function startRgw(bucket = 'infrakt-rgw'): Promise<RgwWorld> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infrakt-rgw-'));
  for (const sub of ['run', 'log', 'mon', 'osd/ceph-0', 'rgw'])
    fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const [monPort, port] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const conf = path.join(dir, 'ceph.conf');
  fs.writeFileSync(
    conf,
    [
      '[global]',
      `fsid = ${fsid}`,
      `mon host = v2:127.0.0.1:${monPort}`,
      'public addr = 127.0.0.1',
      'auth cluster required = none',
      'auth service required = none',
      'auth client required = none',
      'ms bind msgr1 = false',
      'ms bind ipv6 = false',
      'ms mon client mode = crc',
      'keyring = /dev/null',
      'osd objectstore = memstore',
      'memstore device bytes = 2147483648',
      'osd pool default size = 1',
      'osd pool default min size = 1',
      'mon allow pool size one = true',
      'mon warn on pool no redundancy = false',
      'osd crush chooseleaf type = 0',
      `run dir = ${dir}/run`,
      `admin socket = ${dir}/run/$name.asok`,
      `pid file = ${dir}/run/$name.pid`,
      `log file = ${dir}/log/$name.log`,
      `mon data = ${dir}/mon/$cluster-$id`,
      `osd data = ${dir}/osd/$cluster-$id`,
      '',
      '[client.rgw.t]',
      `rgw frontends = beast endpoint=127.0.0.1:${port}`,
      'ms mon client mode = crc',
      'keyring = /dev/null',
      `rgw data = ${dir}/rgw`,
      '',
    ].join('\n'),
  );
  const c = ['-c', conf];
  const pidOf = (name: string) => readPid(path.join(dir, 'run', `${name}.pid`));
  const stop = async () => {
    for (const name of ['client.rgw.t', 'osd.0', 'mon.a']) {
      const pid = pidOf(name);
      kill(pid, 'SIGCONT');
      if (kill(pid, 'SIGTERM')) await waitGone(pid, 5000);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run('monmaptool', [
      '--create',
      '--addv',
      'a',
      `[v2:127.0.0.1:${monPort}]`,
      '--fsid',
      fsid,
      `${dir}/monmap`,
    ]);
    await run('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', `${dir}/monmap`]);
    await daemon('ceph-mon', [...c, '-i', 'a']);
    const osdUuid = randomUUID();
    const { stdout: osdId } = await run('ceph', [...c, 'osd', 'new', osdUuid], { timeout: 60_000 });
    if (osdId.trim() !== '0') throw new Error(`ceph osd new gave id ${osdId.trim()}, expected 0`);
    await run('ceph-osd', [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], { timeout: 60_000 });
    await daemon('ceph-osd', [...c, '-i', '0']);
    await daemon('radosgw', [...c, '-n', 'client.rgw.t']);
    const deadline = Date.now() + 120_000;
    while (!(await answers(port))) {
      if (Date.now() > deadline)
        throw new Error(`radosgw did not answer on 127.0.0.1:${port} within 120 s (see ${dir}/log)`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const admin = async (args: readonly string[]) =>
      (await run('radosgw-admin', [...c, '-n', 'client.rgw.t', ...args], { timeout: 60_000 })).stdout;
    await admin([
      'user',
      'create',
      '--uid=infrakt',
      '--display-name=infrakt tests',
      `--access-key=${RGW_ACCESS_KEY}`,
      `--secret=${RGW_SECRET_KEY}`,
    ]);
    const endpointUrl = `http://127.0.0.1:${port}`;
    await run('/usr/bin/aws', ['--endpoint-url', endpointUrl, 's3api', 'create-bucket', '--bucket', bucket], {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: RGW_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: RGW_SECRET_KEY,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      timeout: 60_000,
    });
    return { endpointUrl, port, bucket, directory: dir, admin, pid: () => pidOf('client.rgw.t'), stop };
  } catch (err) {
    const log = (name: string) => {
      try {
        return fs
          .readFileSync(path.join(dir, 'log', `${name}.log`), 'utf8')
          .split('\n')
          .slice(-15)
          .join('\n');
      } catch {
        return '';
      }
    };
    const detail = ['mon.a', 'osd.0', 'client.rgw.t'].map((n) => `--- ${n}\n${log(n)}`).join('\n');
    await stop();
    throw new Error(`Ceph RGW did not start: ${err instanceof Error ? err.message : String(err)}\n${detail}`);
  }
}
