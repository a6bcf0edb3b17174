/** The recordings card of the admin page (everyone's, filtered by user) and the dashboard (the user's own); assets/recordings.ts fills it. */
export function recordingsCard(admin: boolean): string {
  return `<section class="card span" id="recordings" aria-labelledby="recordings-title">
<h2 id="recordings-title">${admin ? 'Session recordings' : 'Your recorded sessions'}</h2>
<p class="sub">Terminal sessions (SSH with a pty, the web terminal) are recorded on this gateway.</p>
${admin ? '<div class="toolbar"><label for="recording-user" class="visually-hidden">Filter by user</label><input type="search" id="recording-user" placeholder="Filter by user" autocomplete="off" spellcheck="false"></div>' : ''}
<ul class="list" id="recording-list"><li class="empty">Loading…</li></ul>
<div id="recording-player" aria-label="Recording player"></div>
<p class="flash" id="recording-flash" role="status" aria-live="polite"></p>
</section>`;
}

/** What a page that plays recordings adds: the player's stylesheet and scripts. */
export const RECORDING_STYLES = ['/_berth/assets/asciinema-player.css'];
export const RECORDING_SCRIPTS = ['/_berth/assets/asciinema-player.js', '/_berth/assets/recordings.js'];
