import type { IncomingMessage } from 'node:http';
import type { AuditEvent } from '../audit/kinds.js';

/** The audit events of signing in and out, the same for every mode; the source is the peer (the proxy, in header mode). */
export function signedIn(req: IncomingMessage, user: string, mode: string): AuditEvent {
  return { kind: 'signin.succeeded', actor: user, via: mode, source: req.socket.remoteAddress ?? null, target: user, outcome: 'ok', detail: { mode } };
}

/** `reason` says why in the log's words; it never holds the credential. */
export function signInRefused(req: IncomingMessage, mode: string, reason: string, user: string | null = null): AuditEvent {
  return { kind: 'signin.failed', actor: user, via: mode, source: req.socket.remoteAddress ?? null, target: user, outcome: 'refused', detail: { mode, reason } };
}

export function signedOut(req: IncomingMessage, user: string, mode: string): AuditEvent {
  return { kind: 'signout', actor: user, via: mode, source: req.socket.remoteAddress ?? null, target: user, outcome: 'ok', detail: { mode } };
}
