import { BerthError } from '../../core/errors.js';
import { statusAnswers } from '../statusAnswers.js';

/*
 * client-node rejects with an ApiException carrying `code` (the HTTP status)
 * and `body` (the API's Status object, as text or parsed) when the API server
 * answered, and with a plain network error (ECONNREFUSED, ETIMEDOUT, …) when
 * it could not be reached. The second kind makes the runtime unavailable.
 */

export function apiStatus(err: unknown): number | null {
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : null;
}

export const { unlessMissing, ignoreStatus } = statusAnswers(apiStatus);

/** The API's own message ("pods \"x\" not found") rather than client-node's decorated one. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  const parsed = typeof body === 'string' ? safeParse(body) : body;
  const message = (parsed as { message?: unknown } | null)?.message;
  if (typeof message === 'string') return message;
  if (err instanceof Error) return (err.message.split('\n')[0] ?? err.message).trim();
  return String(err);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function isUnreachable(err: unknown): boolean {
  if (apiStatus(err) !== null) return false;
  const code = (err as { code?: unknown; errno?: unknown } | null)?.code ?? (err as { errno?: unknown } | null)?.errno;
  return (typeof code === 'string' && /^E[A-Z]+$/.test(code)) || /socket hang up|ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|network|fetch failed/i.test(String((err as Error)?.message ?? err));
}

export function apiUnavailable(server: string, err: unknown): BerthError {
  const detail = apiMessage(err);
  return new BerthError({
    code: 'runtime_unavailable',
    userMessage: `The Kubernetes API server at ${server} is not reachable (${detail}); try again in a minute, and tell the operator if it persists.`,
    logMessage: `kubernetes API server at ${server} is not reachable: ${detail}`,
    cause: err,
  });
}

/** Any failure of an API call as a BerthError; `doing` says what was attempted, for the log. */
export function apiFailure(server: string, doing: string, err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  if (isUnreachable(err)) return apiUnavailable(server, err);
  const status = apiStatus(err);
  const detail = apiMessage(err);
  const hint = status === 403 ? ' (the gateway\'s service account lacks a permission: apply deploy/kubernetes/rbac.yaml)' : '';
  return new BerthError({
    code: 'internal',
    userMessage: `The Kubernetes API refused to ${doing}: ${detail}. Try again, and tell the operator if it persists.`,
    logMessage: `kubernetes API at ${server} failed to ${doing} (HTTP ${status ?? '?'}): ${detail}${hint}`,
    cause: err,
  });
}
