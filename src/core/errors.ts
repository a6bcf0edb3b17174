/**
 * The one error type of the gateway. `userMessage` is safe to show to the
 * person on the other end (browser, SSH client); `logMessage` carries the
 * operator's detail and may name internals, never secrets. `code` is stable
 * and becomes a metric label, so add codes rather than renaming them.
 */
export type ErrorCode =
  | 'config_invalid'
  | 'bad_request'
  | 'request_timeout'
  | 'headers_too_large'
  | 'unauthenticated'
  | 'forbidden'
  | 'untrusted_identity_header'
  | 'csrf'
  | 'not_found'
  | 'bad_username'
  | 'spawn_failed'
  | 'spawn_timeout'
  | 'spawn_superseded'
  | 'pause_unsupported'
  | 'berth_not_ready'
  | 'berth_stopped'
  | 'upstream_failed'
  | 'runtime_unavailable'
  | 'store_unavailable'
  | 'shutting_down'
  | 'storage_full'
  | 'storage_unavailable'
  | 'recording_unavailable'
  | 'internal';

export interface BerthErrorInit {
  code: ErrorCode;
  userMessage: string;
  logMessage?: string;
  status?: number;
  cause?: unknown;
}

const defaultStatus: Record<ErrorCode, number> = {
  config_invalid: 500,
  bad_request: 400,
  request_timeout: 408,
  headers_too_large: 431,
  unauthenticated: 401,
  forbidden: 403,
  untrusted_identity_header: 403,
  csrf: 403,
  not_found: 404,
  bad_username: 400,
  spawn_failed: 503,
  spawn_timeout: 503,
  spawn_superseded: 503,
  pause_unsupported: 501,
  berth_not_ready: 503,
  berth_stopped: 503,
  upstream_failed: 502,
  runtime_unavailable: 503,
  store_unavailable: 503,
  shutting_down: 503,
  storage_full: 507,
  storage_unavailable: 503,
  recording_unavailable: 503,
  internal: 500,
};

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  readonly logMessage: string;
  readonly status: number;

  constructor(init: BerthErrorInit) {
    super(init.logMessage ?? init.userMessage, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'BerthError';
    this.code = init.code;
    this.userMessage = init.userMessage;
    this.logMessage = init.logMessage ?? init.userMessage;
    this.status = init.status ?? defaultStatus[init.code];
  }
}

const FULL = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);
const UNWRITABLE = /^(EROFS|EIO|SQLITE_READONLY.*|SQLITE_IOERR.*|SQLITE_CANTOPEN)$/;

/** Permission errors are storage errors only where a file of the gateway's own is named: a Docker socket says EACCES too. */
const DENIED = new Set(['EACCES', 'EPERM']);

/**
 * A disk or database error that means the gateway cannot save (the data
 * directory full, read-only, failing or not the gateway's to write) as 507 or
 * 503 with that reason, or null for any other error. `path` names what was
 * being written, when known.
 */
export function storageFailure(err: unknown, path?: string): BerthError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  const full = FULL.has(code);
  if (!full && !UNWRITABLE.test(code) && !(path !== undefined && DENIED.has(code))) return null;
  const where = path === undefined ? 'its data directory' : path;
  const detail = err instanceof Error ? err.message : code;
  return new BerthError({
    code: full ? 'storage_full' : 'storage_unavailable',
    userMessage: full
      ? `Berth cannot write ${where}: no space is left (${code}). The operator must free space there; /_berth/healthz says when it is writable again.`
      : `Berth cannot write ${where} (${code}). The operator must make it writable; /_berth/healthz names the problem.`,
    logMessage: `${path === undefined ? 'write' : `writing ${path}`} failed: ${code}: ${detail}`,
    cause: err,
  });
}

/** Wraps anything thrown into a BerthError so callers handle one shape. */
export function asBerthError(err: unknown, fallback: ErrorCode = 'internal'): BerthError {
  if (err instanceof BerthError) return err;
  const storage = storageFailure(err);
  if (storage !== null) return storage;
  const detail = err instanceof Error ? err.message : String(err);
  return new BerthError({
    code: fallback,
    userMessage: 'Something went wrong in the gateway; try again, and tell the operator if it persists.',
    logMessage: detail,
    cause: err,
  });
}
