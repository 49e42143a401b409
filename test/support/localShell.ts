// Runs a script with bash on this machine, asynchronously (so in-process test
// servers such as s3rver keep serving while it runs).
import { spawn } from 'node:child_process';

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runLocalScript(script: string, env: NodeJS.ProcessEnv = process.env): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-s'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(script);
  });
}
