/**
 * The audit log's vocabulary: a stable, documented set of dotted kinds (the
 * README's "Audit log" section lists what each means and what its detail
 * holds). Kinds are a contract with whoever reads the log (a SIEM, a
 * script): add kinds, never rename or repurpose one. A prefix names a family
 * (`ssh.`, `spawn.`), which `GET /_berth/api/audit?kind=ssh.` filters on.
 */
export const AUDIT_KINDS = [
  /** A sign-in was accepted; detail.mode is dev, header or oidc. Header mode, where every request signs in: the first per user per day. */
  'signin.succeeded',
  /** A sign-in was refused, a token's too (mode token); detail.mode, detail.reason (never the credential). */
  'signin.failed',
  /** The session cookie was cleared at the logout page. */
  'signout',
  /** An API token was made; detail.token (its id), detail.scopes. */
  'token.created',
  /** A token signed a request in, the first time that day; detail.token, detail.scopes. */
  'token.used',
  /** A token was revoked; detail.token. */
  'token.revoked',
  /** A port's share level was set; detail.port, detail.share. */
  'share.changed',
  /** Someone other than the owner opened (or was refused) a port's app host, once per visitor, port and outcome a day; detail.port, detail.host, detail.share. */
  'port.visited',
  /** A start of the target's berth was asked for; detail.reason (http, ssh, api, …). */
  'spawn.requested',
  /** The berth answered on its port (attach: its container was found); detail.seconds, detail.runtimeId (container id, pod uid or pid), detail.image. */
  'spawn.started',
  /** The berth could not start or died; detail.reason, detail.exitCode. */
  'spawn.failed',
  /** The berth was stopped; detail.why (who stopped it), detail.removed. */
  'spawn.stopped',
  /** The idle culler stopped the berth; detail.why, detail.removed. */
  'spawn.culled',
  /** An administrator acted on another user's berth; detail.action. */
  'admin.action',
  /** An SSH client connected (before authentication); detail.client (its version string). */
  'ssh.connected',
  /** SSH authentication was accepted; via names the method; detail.username, detail.fingerprint for keys, detail.source (the key source). */
  'ssh.auth.succeeded',
  /** SSH authentication was refused; detail.username, detail.method, detail.fingerprint, detail.code. */
  'ssh.auth.failed',
  /** A channel opened: detail.type shell, exec (detail.command, scp's included), sftp or forward (detail.destination); outcome failed or refused when it could not. */
  'ssh.session.opened',
  /** A channel ended; detail.type, detail.exitStatus, detail.signal. */
  'ssh.session.closed',
  /** A web terminal opened into the target's berth. */
  'terminal.opened',
  /** A web terminal ended; detail.exitStatus. */
  'terminal.closed',
  /** A request or WebSocket was refused by the Origin rule; detail.method, detail.host, detail.path, detail.evidence. */
  'origin.refused',
  /** A change came with the session cookie but without the right CSRF token; detail.method, detail.host, detail.path. */
  'csrf.refused',
  /** A berth already running when the gateway started was taken over (attach: a container found by its labels); detail.runtimeId, detail.image. */
  'spawn.adopted',
  /** A session's recording reached recording.maxBytes and stopped (the session went on); detail.recording (its id), detail.type ssh or terminal. */
  'recording.capped',
] as const;

export type AuditKind = (typeof AUDIT_KINDS)[number];

/** ok: it happened; refused: a rule said no; failed: it was tried and did not work. */
export type AuditOutcome = 'ok' | 'refused' | 'failed';

/** Flat, small values only: never a secret (token, password, cookie, code, query string), never a request body. */
export type AuditDetail = Readonly<Record<string, string | number | boolean | null>>;

/** What a call site hands to AuditRecorder.record. */
export interface AuditEvent {
  kind: AuditKind;
  /** The username that acted, or null when unknown (refused before anyone was named). */
  actor: string | null;
  /**
   * How the actor authenticated: an auth mode (dev, header, oidc), "token",
   * an SSH method (publickey, password, keyboard-interactive), or "gateway"
   * for what the gateway does by itself (the culler, a berth dying).
   */
  via: string | null;
  /** The peer address the request or connection came from. */
  source: string | null;
  /** The user whose berth, tokens, ports or session the event concerns. */
  target: string | null;
  outcome: AuditOutcome;
  detail?: AuditDetail;
}

/** An event as kept: numbered in the order this store received it, with its time (ms since the epoch). */
export interface StoredAuditEvent extends Required<AuditEvent> {
  id: number;
  at: number;
}

/**
 * The one interface the rest of the gateway records through. record() never
 * throws and never waits: events are queued and written in batches.
 */
export interface AuditRecorder {
  record(event: AuditEvent): void;
}

export function isAuditKind(value: string): value is AuditKind {
  return (AUDIT_KINDS as readonly string[]).includes(value);
}

/** For a part built without an audit log (a test of that part alone): records nothing. */
export const NO_AUDIT: AuditRecorder = { record: () => undefined };
