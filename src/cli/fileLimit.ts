import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from '../log/logger.js';

const run = promisify(execFile);

export interface FileLimit {
  soft: number;
  hard: number;
}

/**
 * Makes sure the gateway's soft limit on open files is its hard limit, as
 * nginx's worker_rlimit_nofile does: every proxied request, SSH connection
 * and forward holds descriptors, and distributions default the soft limit to
 * 1024. The node binary raises it itself as it starts (PlatformInit), but an
 * embedder may start Node without that, and Node has no setrlimit: then
 * util-linux's `prlimit --pid` raises it on this process from outside (one
 * short-lived child; raising a soft limit up to the hard one needs no
 * privilege). Where that fails the limit stays, and the log says how to
 * raise it. Either way the limit in force is logged.
 */
export async function raiseFileLimit(logger: Logger): Promise<void> {
  const before = await readFileLimit();
  if (before === null) return logger.debug('no /proc/self/limits here; the open-file limit is left as it is');
  if (before.soft >= before.hard) return logger.info({ soft: before.soft, hard: before.hard }, 'open-file soft limit is at the hard limit');
  try {
    await run('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`], { timeout: 5000 });
  } catch (err) {
    logger.warn(
      { soft: before.soft, hard: before.hard, error: (err as Error).message },
      'could not raise the open-file limit with prlimit (util-linux); install util-linux, or raise it before start (ulimit -n, LimitNOFILE= in a systemd unit)',
    );
    return;
  }
  const after = await readFileLimit();
  logger.info({ from: before.soft, to: after?.soft ?? null, hard: before.hard }, 'raised the open-file soft limit to the hard limit');
}

/** This process's RLIMIT_NOFILE from /proc/self/limits (Linux), or null where there is none. */
export async function readFileLimit(pid: number | 'self' = 'self'): Promise<FileLimit | null> {
  const text = await readFile(`/proc/${pid}/limits`, 'utf8').catch(() => null);
  const match = text === null ? null : /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!match) return null;
  const value = (v: string | undefined) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
  return { soft: value(match[1]), hard: value(match[2]) };
}
