import { readdir, readFile, readlink } from 'node:fs/promises';
import { listeningPorts } from '../procNet.js';

/**
 * Local berths share the host's network, so "port 3000 of alice's berth"
 * means a port that a process of alice's berth listens on: its sockets are
 * found through /proc/<pid>/fd (socket inodes) for every process in the
 * berth's process groups (the main one and one per exec), then matched
 * against the listening sockets in /proc/net/tcp and tcp6. A process that
 * leaves its group (setsid) leaves the berth too. Linux only: elsewhere no
 * port but the main one is reachable.
 */
export async function portsOfGroups(groups: ReadonlySet<number>): Promise<number[]> {
  const inodes = new Set<string>();
  for (const pid of await processesIn(groups)) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue; // ended meanwhile
    }
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match) inodes.add(match[1] as string);
    }
  }
  if (inodes.size === 0) return [];
  const tables = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((path) => readFile(path, 'utf8').catch(() => '')));
  return listeningPorts(tables.join('\n'), inodes);
}

async function processesIn(groups: ReadonlySet<number>): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so read after the last ')'.
        const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
        if (groups.has(pgrp)) pids.push(Number(entry));
      }),
  );
  return pids;
}
