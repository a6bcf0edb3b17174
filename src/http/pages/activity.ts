import type { StoredAuditEvent } from '../../audit/kinds.js';
import { escapeHtml } from './html.js';

/** The badge of an outcome other than ok, in the pages' existing badge colours. */
const OUTCOME_BADGE: Record<string, string> = { refused: 'failed', failed: 'failed' };

/** "actor → target via mode from address", leaving out what an event does not have. */
function who(event: StoredAuditEvent): string {
  const parts: string[] = [];
  parts.push(event.actor ?? 'someone unnamed');
  if (event.target !== null && event.target !== event.actor) parts.push(`→ ${event.target}`);
  if (event.via !== null) parts.push(`via ${event.via}`);
  if (event.source !== null) parts.push(`from ${event.source}`);
  return parts.join(' ');
}

function details(event: StoredAuditEvent): string {
  return Object.entries(event.detail)
    .filter(([, value]) => value !== null && value !== '')
    .map(([key, value]) => `${key}: ${String(value)}`)
    .join(' · ');
}

/**
 * The "Activity" list of the dashboard (the user's own events) and the admin
 * page (everyone's), rendered on the server from the audit log: no script,
 * so the pages' strict CSP is unchanged.
 */
export function activitySection(events: readonly StoredAuditEvent[], options: { title: string; empty: string; more: string }): string {
  const items = events.map((event) => {
    const at = new Date(event.at).toISOString();
    const badge = OUTCOME_BADGE[event.outcome];
    return `<li data-kind="${escapeHtml(event.kind)}"><time datetime="${at}">${escapeHtml(at.replace('T', ' ').slice(0, 19))}</time><div class="grow"><div class="title"><code>${escapeHtml(event.kind)}</code>${badge === undefined ? '' : ` <span class="badge ${badge}">${escapeHtml(event.outcome)}</span>`}</div><div class="meta">${escapeHtml(who(event))}</div>${details(event) === '' ? '' : `<div class="meta">${escapeHtml(details(event))}</div>`}</div></li>`;
  });
  return `<section class="card span" id="activity" aria-labelledby="activity-title">
<h2 id="activity-title">${escapeHtml(options.title)}</h2>
${items.length === 0 ? `<p class="empty">${escapeHtml(options.empty)}</p>` : `<ul class="list events" id="activity-list">${items.join('')}</ul>`}
<p class="small muted">${escapeHtml(options.more)}</p>
</section>`;
}
