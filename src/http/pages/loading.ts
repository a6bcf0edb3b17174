import type { BerthStatus } from '../../core/berth.js';
import type { Profile } from '../../profiles/profiles.js';
import { escapeHtml, page } from './html.js';
import { profileChoiceForm } from './profileChoice.js';

/** The steps the page names, in order; runtime steps (pulling, creating) fold into "starting". */
export const LOADING_STEPS: Array<{ step: string; label: string }> = [
  { step: 'queued', label: 'Waiting for a start slot' },
  { step: 'starting', label: 'Starting your environment' },
  { step: 'waiting', label: 'Waiting for your app to answer' },
  { step: 'ready', label: 'Ready' },
];

/**
 * Served at once to a browser navigating to a berth that is not ready. The
 * script (assets/loading.ts) follows /_berth/api/me/progress and reloads into
 * the app when it is ready, or shows the failure with its log lines and a
 * retry button (a POST carrying the session's CSRF token). With `choices`
 * (a first start with several profiles, profilesChoice: ask) nothing has
 * started yet: the page asks which profile, and starts it when picked.
 */
export function loadingPage(status: BerthStatus, csrfToken: string, choices: readonly Profile[] | null = null): string {
  const steps = LOADING_STEPS.map(
    ({ step, label }) =>
      `<li data-step="${step}"><span class="dot" aria-hidden="true"></span><span>${escapeHtml(label)}</span><span class="time"></span></li>`,
  ).join('');
  const failure = status.state === 'failed' ? status.failure : null;
  return page({
    title: 'Starting your environment',
    csrfToken,
    scripts: ['/_berth/assets/common.js', '/_berth/assets/loading.js'],
    body: `<div class="card" id="loading" data-state="${choices ? 'choose' : escapeHtml(status.state)}">
<h1 id="headline">${choices ? 'Choose your environment' : 'Starting your environment'}</h1>
<p class="muted">Hello ${escapeHtml(status.user)}. <span id="hint">This page opens your app as soon as it is ready.</span></p>
${choices ? `<div id="choice">${profileChoiceForm(choices, null, 'Start')}</div>` : ''}
<ol class="steps${choices ? ' hidden' : ''}" id="steps">${steps}</ol>
<p class="message" id="message" role="status" aria-live="polite"></p>
<div id="failure" class="${failure ? '' : 'hidden'}">
<div class="error" id="reason" role="alert">${escapeHtml(failure?.reason ?? '')}</div>
<pre class="log" id="log" tabindex="0" aria-label="Last output of your environment">${escapeHtml((failure?.logTail ?? []).join('\n'))}</pre>
<div class="actions"><button type="button" id="retry">Retry</button><a class="button secondary" href="/_berth/">Dashboard</a></div>
</div>
<noscript><p>This page needs JavaScript to follow the start; reload it in a few seconds.</p></noscript>
</div>`,
  });
}
