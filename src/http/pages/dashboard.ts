import type { SshAccess } from '../../cli/sshInfo.js';
import type { Profile } from '../../profiles/profiles.js';
import type { StoredAuditEvent } from '../../audit/kinds.js';
import { activitySection } from './activity.js';
import { escapeHtml, page } from './html.js';
import { profileChoiceForm } from './profileChoice.js';
import { RECORDING_SCRIPTS, RECORDING_STYLES, recordingsCard } from './recordings.js';

function copyable(id: string, text: string, label: string): string {
  return `<div class="copy"><code id="${id}">${escapeHtml(text)}</code><button type="button" class="secondary small" data-copy="${id}" aria-label="Copy ${escapeHtml(label)}">Copy</button></div>`;
}

function sshSection(ssh: SshAccess | null): string {
  if (ssh === null) {
    return `<section class="card" id="ssh" aria-labelledby="ssh-title"><h2 id="ssh-title">SSH access</h2>
<p class="unavailable">SSH is turned off on this gateway.</p></section>`;
  }
  return `<section class="card" id="ssh" aria-labelledby="ssh-title">
<h2 id="ssh-title">SSH access</h2>
<p class="sub">A shell, files (sftp, scp) and port forwarding into your berth, with a key from <a href="#keys">your SSH keys</a>.</p>
${copyable('ssh-command', ssh.command, 'the ssh command')}
${copyable('sftp-command', ssh.sftpCommand, 'the sftp command')}
<p class="small muted">On the first connection, check that ssh shows one of these host key fingerprints:</p>
<ul class="list small">${ssh.fingerprints.map((f) => `<li><code class="mono">${escapeHtml(f)}</code></li>`).join('')}</ul>
<details><summary>known_hosts lines</summary><pre>${escapeHtml(ssh.knownHosts.join('\n'))}</pre></details>
</section>`;
}

/**
 * GET /_berth/: the signed-in user's own page. The frame and the SSH
 * instructions are rendered here; the live parts (berth state, keys, tokens,
 * ports, events) are filled and kept fresh by assets/dashboard.ts from the API.
 */
export function dashboardPage(options: {
  user: string;
  admin: boolean;
  csrfToken: string;
  ssh: SshAccess | null;
  signOut: boolean;
  activity: StoredAuditEvent[];
  /** The profiles open to this user (none: the gateway has no profiles). */
  profiles: readonly Profile[];
  recordings: boolean;
}): string {
  const profiles =
    options.profiles.length === 0
      ? ''
      : `<section id="profiles" aria-labelledby="profiles-title"><h2 id="profiles-title">Profiles</h2>
<p class="sub">Starting another profile makes your berth again from it; your home directory is kept.</p>
${profileChoiceForm(options.profiles, null, 'Start this profile')}</section>`;
  return page({
    title: 'Dashboard',
    wide: true,
    csrfToken: options.csrfToken,
    nav: { user: options.user, admin: options.admin, current: 'dashboard', signOut: options.signOut },
    scripts: ['/_berth/assets/common.js', '/_berth/assets/dashboard.js', ...(options.recordings ? RECORDING_SCRIPTS : [])],
    ...(options.recordings ? { styles: RECORDING_STYLES } : {}),
    body: `<section class="card" id="berth" aria-labelledby="berth-title">
<div class="headline"><h1 id="berth-title">Your berth</h1><span class="badge" id="state" role="status">loading</span></div>
<p class="muted" id="summary">Loading the state of your berth…</p>
<dl class="facts">
<div><dt>Started</dt><dd id="started">—</dd></div>
<div><dt>Uptime</dt><dd id="uptime">—</dd></div>
<div><dt>Idle stop in</dt><dd id="idle">—</dd></div>
<div><dt>Image</dt><dd id="image">—</dd></div>
<div><dt>Profile</dt><dd id="profile">—</dd></div>
</dl>
<div id="failure" class="hidden"><div class="error" id="failure-reason"></div><pre class="log" id="failure-log" aria-label="Last output of your berth"></pre></div>
<div class="actions">
<a class="button" href="/" id="open">Open</a>
<a class="button secondary" href="/_berth/terminal" id="terminal" target="_blank" rel="noopener">Terminal</a>
<button type="button" class="secondary" id="start">Start</button>
<button type="button" class="secondary" id="restart">Restart</button>
<button type="button" class="danger" id="stop">Stop</button>
</div>
<p class="flash" id="berth-flash" role="status" aria-live="polite"></p>
${profiles}
<noscript><p>This page needs JavaScript for the live parts; the API at /_berth/api/openapi.json offers the same.</p></noscript>
</section>
<div class="grid">
${sshSection(options.ssh)}
<section class="card" id="keys" aria-labelledby="keys-title">
<h2 id="keys-title">SSH keys</h2>
<p class="sub">Public keys that may sign in to your berth over SSH.</p>
<ul class="list" id="key-list"><li class="empty">Loading…</li></ul>
<form id="key-form">
<div class="field"><label for="key-text">Add a public key</label>
<textarea id="key-text" name="key" rows="3" placeholder="ssh-ed25519 AAAA… you@laptop (the contents of ~/.ssh/id_ed25519.pub)" spellcheck="false" required></textarea></div>
<button type="submit">Add key</button>
</form>
<p class="flash" id="key-flash" role="status" aria-live="polite"></p>
</section>
<section class="card" id="tokens" aria-labelledby="tokens-title">
<h2 id="tokens-title">API tokens</h2>
<p class="sub">For scripts and tools: send one in the <code>X-Berth-Token</code> header.</p>
<div id="token-body"><p class="empty">Loading…</p></div>
<p class="flash" id="token-flash" role="status" aria-live="polite"></p>
</section>
<section class="card" id="ports" aria-labelledby="ports-title">
<h2 id="ports-title">Ports</h2>
<p class="sub">Web services listening in your berth, each at its own address. Private to you unless you share it.</p>
<div id="port-body"><p class="empty">Loading…</p></div>
<p class="flash" id="port-flash" role="status" aria-live="polite"></p>
</section>
<section class="card span" id="events" aria-labelledby="events-title">
<h2 id="events-title">Recent events</h2>
<ul class="list events" id="event-list"><li class="empty">Loading…</li></ul>
</section>
${activitySection(options.activity, { title: 'Activity', empty: 'Nothing recorded yet.', more: 'Sign-ins, tokens, shares, SSH sessions and what administrators did to your berth; GET /_berth/api/audit has all of it.' })}
${options.recordings ? recordingsCard(false) : ''}
</div>`,
  });
}
