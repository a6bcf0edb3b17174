import type { Config } from '../../config/schema.js';

/** fail: the first login would fail (exit 1); warn: it works, but not as an operator would want; skip: not part of this set-up. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** A stable short name, e.g. "runtime", "image", "apps-domain". */
  check: string;
  status: CheckStatus;
  message: string;
  /** What to do about it; set on every fail and warn. */
  fix?: string;
}

export type Check = (config: Config) => Promise<CheckResult>;

export const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
export const skip = (check: string, message: string): CheckResult => ({ check, status: 'skip', message });
export const fail = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'fail', message, fix });
export const warn = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'warn', message, fix });

/** Bounds every probe of something outside the process, so one hung resolver or engine cannot hang the doctor. */
export const PROBE_TIMEOUT_MS = 5_000;

export function withTimeout<T>(what: string, promise: Promise<T>, ms = PROBE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
