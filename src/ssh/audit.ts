import type { AuditDetail, AuditKind, AuditOutcome, AuditRecorder } from '../audit/kinds.js';

/** Records an event of one authenticated connection: who, how and from where are filled in once. */
export type SshAudit = (kind: AuditKind, outcome: AuditOutcome, detail?: AuditDetail) => void;

export function connectionAudit(audit: AuditRecorder, user: string, via: string | null, source: string): SshAudit {
  return (kind, outcome, detail) => audit.record({ kind, actor: user, via, source, target: user, outcome, ...(detail === undefined ? {} : { detail }) });
}
