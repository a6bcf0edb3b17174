import type { StoredAuditEvent } from '../../audit/kinds.js';
import type { BerthEvent } from '../../store/store.js';
import { activitySection } from './activity.js';
import { escapeHtml, page } from './html.js';
import { RECORDING_SCRIPTS, RECORDING_STYLES, recordingsCard } from './recordings.js';

function failureList(failures: BerthEvent[]): string {
  if (failures.length === 0) return '<p class="empty">No berth has failed to start recently.</p>';
  return `<ul class="list events">${failures
    .map(
      (f) =>
        `<li><time datetime="${new Date(f.at).toISOString()}">${escapeHtml(new Date(f.at).toISOString().replace('T', ' ').slice(0, 16))}</time><div class="grow"><div class="title">${escapeHtml(f.user)}</div><div class="meta">${escapeHtml(f.message)}</div></div></li>`,
    )
    .join('')}</ul>`;
}

/**
 * GET /_berth/admin: every berth, with stop and restart. The table and the
 * images pulled ahead are filled and refreshed by assets/admin.ts from GET
 * /_berth/api/berths and /_berth/api/images; recent spawn failures (from the
 * store's events) are rendered here.
 */
export function adminPage(options: { user: string; csrfToken: string; failures: BerthEvent[]; activity: StoredAuditEvent[]; signOut: boolean; recordings: boolean }): string {
  return page({
    title: 'Admin',
    wide: true,
    csrfToken: options.csrfToken,
    nav: { user: options.user, admin: true, current: 'admin', signOut: options.signOut },
    scripts: ['/_berth/assets/common.js', '/_berth/assets/admin.js', ...(options.recordings ? RECORDING_SCRIPTS : [])],
    ...(options.recordings ? { styles: RECORDING_STYLES } : {}),
    body: `<section class="card" aria-labelledby="admin-title">
<div class="headline"><h1 id="admin-title">All berths</h1><span class="badge count" id="count">…</span></div>
<div class="toolbar"><label for="search" class="visually-hidden">Search by user</label>
<input type="search" id="search" placeholder="Search by user" autocomplete="off" spellcheck="false">
<span class="muted small" id="summary"></span></div>
<table class="stack">
<thead><tr><th scope="col">User</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Last activity</th><th scope="col">Image</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody id="rows"><tr><td colspan="6" class="empty">Loading…</td></tr></tbody>
</table>
<p class="flash" id="admin-flash" role="status" aria-live="polite"></p>
</section>
<section class="card" aria-labelledby="failures-title">
<h2 id="failures-title">Recent spawn failures</h2>
${failureList(options.failures)}
</section>
<section class="card" aria-labelledby="images-title">
<h2 id="images-title">Images</h2>
<p class="muted small">Pulled ahead of their first berth when the gateway starts.</p>
<ul class="list images" id="images"><li class="empty">Loading…</li></ul>
</section>
${activitySection(options.activity, { title: 'Activity', empty: 'Nothing recorded yet.', more: 'The newest events of everyone; GET /_berth/api/audit filters by user, kind and time.' })}
${options.recordings ? recordingsCard(true) : ''}`,
  });
}
