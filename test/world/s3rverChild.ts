// s3rver in a process of its own, so a test can stop it for real (SIGSTOP /
// SIGCONT: an S3 endpoint that hangs) and so it runs with the legacy OpenSSL
// provider (its listing continuation tokens use DES, which Node 20 refuses
// without it: listings past 1,000 keys fail). Started by startS3({ process: true }).
// argv: <directory> <bucket> <port or 0>; prints one JSON line {"port":N} when listening.
import S3rver from 's3rver';

async function main(): Promise<void> {
  const [directory, bucket, port] = process.argv.slice(2);
  const server = new S3rver({
    port: Number(port),
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const info = await server.run();
  process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
  const stop = () => {
    server.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent went away (test runner killed): do not outlive it.
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
