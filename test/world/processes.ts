// Processes on this machine, read from /proc: what the test world needs to stop an sshd's
// sessions and to recognise a server it left running.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';

interface Proc {
  pid: number;
  ppid: number;
  sid: number;
}

function processTable(): Proc[] {
  const procs: Proc[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp session ...; comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid: Number(name), ppid: Number(fields[1]), sid: Number(fields[3]) });
    } catch {
      // gone meanwhile
    }
  }
  return procs;
}

/**
 * Ends every session of an sshd listener: each connection's monitor process and whatever its
 * commands started. sshd puts each connection, and each command, in a session of its own, and
 * a command without a terminal outlives its connection — so a backup started in the sandbox
 * would keep running after Ctrl-C. The listener itself is left to its own stop.
 */
export function endSshSessions(listenerPid: number): void {
  const table = processTable();
  const listener = table.find((p) => p.pid === listenerPid);
  if (!listener) return;
  const descendants = new Set<number>();
  const queue = [listenerPid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const p of table) {
      if (p.ppid === parent && !descendants.has(p.pid)) {
        descendants.add(p.pid);
        queue.push(p.pid);
      }
    }
  }
  const sessions = new Set(
    table.filter((p) => descendants.has(p.pid) && p.sid !== listener.sid).map((p) => p.sid),
  );
  const targets = table.filter((p) => descendants.has(p.pid) || sessions.has(p.sid)).map((p) => p.pid);
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of targets) signal(pid, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (targets.some(alive) && Date.now() < deadline) execFileSync('sleep', ['0.1']);
  for (const pid of targets.filter(alive)) signal(pid, 'SIGKILL');
}

export function processArgs(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function waitGone(pid: number, ms: number): boolean {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) execFileSync('sleep', ['0.1']);
  return !alive(pid);
}
