import type { Logger } from './logger.js';

export type ThrottledLevel = 'error' | 'warn' | 'info' | 'debug';

export interface ThrottledLog {
  /**
   * Writes the line unless `key` has had `burst` lines in the current window;
   * the first line of a later window carries `suppressed`, how many were
   * dropped in between.
   */
  write(level: ThrottledLevel, key: string, fields: Record<string, unknown>, message: string): void;
}

interface Window {
  startedAt: number;
  written: number;
  suppressed: number;
}

/** Lines per key and window unless a caller says otherwise. */
export const DEFAULT_BURST = 10;

/** Keys remembered at once; a flood of distinct keys clears them rather than growing without bound. */
const MAX_KEYS = 1024;

/**
 * A rate limit on log lines that anyone can cause at will (requests to a port
 * nobody listens on, refused upgrades, forged headers): without it, log volume
 * is a lever an outsider can pull to fill a disk or drown real errors.
 * Fixed windows per key; `now` is for tests.
 */
export function throttledLog(logger: Logger, options: { burst?: number; windowMs?: number; now?: () => number } = {}): ThrottledLog {
  const burst = options.burst ?? DEFAULT_BURST;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  const windows = new Map<string, Window>();
  return {
    write(level, key, fields, message) {
      const at = now();
      let window = windows.get(key);
      let suppressed = 0;
      if (window === undefined || at - window.startedAt >= windowMs) {
        suppressed = window?.suppressed ?? 0;
        if (window === undefined && windows.size >= MAX_KEYS) windows.clear();
        window = { startedAt: at, written: 0, suppressed: 0 };
        windows.set(key, window);
      }
      if (window.written >= burst) {
        window.suppressed++;
        return;
      }
      window.written++;
      logger[level](suppressed === 0 ? fields : { ...fields, suppressed }, message);
    },
  };
}
