import { readdir, readFile, readlink } from 'node:fs/promises';
import { listeners, type Listener } from '../procNet.js';

/**
 * Local berths share the host's network, so "port 3000 of alice's berth"
 * means a socket that a process of alice's berth listens on, at the address
 * it is bound to: its sockets are
 * found through /proc/<pid>/fd (socket inodes) for every process in the
 * berth's process groups (the main one and one per exec) and their
 * descendants, then matched against the listening sockets in /proc/net/tcp
 * and tcp6. A daemon that both leaves its group (setsid) and loses its parent
 * leaves the berth too. Linux only: elsewhere no port but the main one is
 * reachable.
 */
export async function listenersOfGroups(groups: ReadonlySet<number>): Promise<Listener[]> {
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
  return listeners(tables.join('\n'), { inodes });
}

/** Processes in one of `groups`, and their descendants (a job-control shell puts each job in a group of its own). */
async function processesIn(groups: ReadonlySet<number>): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const all = await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so read after the last ')'.
        const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return { pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp) };
      }),
  );
  const members = new Set(all.filter((p) => groups.has(p.pgrp)).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!members.has(p.pid) && members.has(p.ppid)) {
        members.add(p.pid);
        grew = true;
      }
    }
  }
  return [...members];
}
