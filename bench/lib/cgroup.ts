import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

/** What a container's cgroup says it holds and has used, read from the host's cgroup files. */
export interface CgroupUsage {
  /** Memory charged to the cgroup (v2 memory.current; v1 memory.usage_in_bytes), page cache included. */
  memoryBytes: number;
  /** Anonymous memory alone (v2 memory.stat anon; v1 total_rss): what the processes keep of their own. */
  anonBytes: number;
  /** CPU time used so far, in nanoseconds (v2 cpu.stat usage_usec; v1 cpuacct.usage). */
  cpuNs: number;
}

function statField(file: string, key: string): number {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${key} `));
  if (line === undefined) throw new Error(`${file} has no ${key}`);
  return Number(line.slice(key.length + 1));
}

/** The usage of the cgroup process `pid` (a container's main process, as `docker inspect` gives State.Pid) is in, on cgroup v2 or v1. */
export function cgroupUsage(pid: number): CgroupUsage {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const pathOf = (controller: string | null): string => {
    const line = lines.find((l) => {
      const [, controllers = ''] = l.split(':');
      return controller === null ? controllers === '' : controllers.split(',').includes(controller);
    });
    if (line === undefined) throw new Error(`process ${pid} is in no ${controller ?? 'unified'} cgroup`);
    return line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  };
  if (existsSync(join(ROOT, 'cgroup.controllers'))) {
    const dir = join(ROOT, pathOf(null));
    return {
      memoryBytes: Number(readFileSync(join(dir, 'memory.current'), 'utf8')),
      anonBytes: statField(join(dir, 'memory.stat'), 'anon'),
      cpuNs: statField(join(dir, 'cpu.stat'), 'usage_usec') * 1000,
    };
  }
  const memory = join(ROOT, 'memory', pathOf('memory'));
  return {
    memoryBytes: Number(readFileSync(join(memory, 'memory.usage_in_bytes'), 'utf8')),
    anonBytes: statField(join(memory, 'memory.stat'), 'total_rss'),
    cpuNs: Number(readFileSync(join(ROOT, 'cpuacct', pathOf('cpuacct'), 'cpuacct.usage'), 'utf8')),
  };
}
