import { BerthError } from '../../core/errors.js';
import { statusAnswers } from '../statusAnswers.js';

/**
 * docker-modem rejects with `statusCode` when the engine answered with an
 * error, and with a plain network error (ECONNREFUSED, ENOENT, ...) when it
 * could not be reached at all. The second kind is what makes the runtime
 * unavailable.
 */
export function engineStatus(err: unknown): number | null {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : null;
}

export const { unlessMissing, ignoreStatus } = statusAnswers(engineStatus);

/**
 * The engine refused to create a container because its name is taken:
 * Docker answers 409, Podman (4.x) 500 with "is already in use".
 */
export function isNameInUse(err: unknown): boolean {
  const status = engineStatus(err);
  return status === 409 || (status === 500 && /already in use/.test(engineMessage(err)));
}

/** A failure to talk to the engine at all, as opposed to an answer from it. */
export function isUnreachable(err: unknown): boolean {
  if (engineStatus(err) !== null || !(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (typeof code === 'string' && /^E[A-Z]+$/.test(code)) || /socket hang up/i.test(err.message);
}

/** The engine's own message ("No such container: x") rather than docker-modem's decorated one. */
export function engineMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (typeof json?.message === 'string') return json.message;
  return err instanceof Error ? err.message : String(err);
}

export function engineUnavailable(address: string, err: unknown): BerthError {
  const detail = engineMessage(err);
  return new BerthError({
    code: 'runtime_unavailable',
    userMessage: `The container engine at ${address} is not reachable (${detail}); try again in a minute, and tell the operator if it persists.`,
    logMessage: `docker engine at ${address} is not reachable: ${detail}`,
    cause: err,
  });
}

/** Any failure of an engine call as a BerthError; `doing` says what was attempted, for the log. */
export function engineFailure(address: string, doing: string, err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  if (isUnreachable(err)) return engineUnavailable(address, err);
  return new BerthError({
    code: 'internal',
    userMessage: `The container engine refused to ${doing}: ${engineMessage(err).trim()}. Try again, and tell the operator if it persists.`,
    logMessage: `docker engine at ${address} failed to ${doing}: ${engineMessage(err).trim()}`,
    cause: err,
  });
}
