import type { ServerResponse } from 'node:http';
import { escapeHtml } from '../../http/pages/html.js';
import { contentSecurityPolicy } from '../../http/respond.js';
import { sendCardPage } from '../cardPage.js';
import { LOGIN_PATH, LOGOUT_PATH } from '../paths.js';

export interface SignInPageState {
  next: string;
  /** The provider's host, named on the page so people know where they are sent. */
  provider: string;
  /** Set while discovery fails: the page says so, and its button tries again. */
  unreachable?: { reason: string; retryInSeconds: number } | undefined;
  notice?: string;
  /** The provider's authorization endpoint origin: the form's redirect goes there. */
  formActionOrigin: string;
}

/** The sign-in page: one button that starts the flow (a POST, origin-checked, to this page). */
export function sendSignInPage(res: ServerResponse, status: number, state: SignInPageState): void {
  const { unreachable } = state;
  const intro = unreachable
    ? `<div class="error" role="alert"><strong>The sign-in provider cannot be reached right now.</strong><br>
${escapeHtml(state.provider)} did not answer (${escapeHtml(unreachable.reason)}). Berth keeps trying by itself${unreachable.retryInSeconds > 0 ? `, next in ${unreachable.retryInSeconds} s` : ''}; try again in a moment, and tell the operator if it persists.</div>`
    : `<p class="muted">Berth uses your organisation's sign-in at <strong>${escapeHtml(state.provider)}</strong>.</p>`;
  sendCardPage(res, status, {
    title: 'Sign in',
    heading: 'Sign in to Berth',
    content: `${state.notice === undefined ? '' : `<p class="notice" role="status">${escapeHtml(state.notice)}</p>`}
${intro}
<form method="post" action="${LOGIN_PATH}">
<input type="hidden" name="next" value="${escapeHtml(state.next)}">
<button type="submit" class="wide" autofocus>${unreachable ? 'Try again' : 'Continue with single sign-on'}</button>
</form>`,
    // Browsers hold the form's redirect to the provider to form-action too.
    headers: { 'content-security-policy': contentSecurityPolicy([state.formActionOrigin]) },
  });
}

export interface RefusalPageState {
  title: string;
  message: string;
  /** Where "Sign in again" leads back to. */
  next: string;
  /** Offer signing out (to switch account at the provider) rather than signing in again. */
  signOut?: boolean;
}

/** A callback or sign-in that was refused: what happened, and the one way forward. */
export function sendRefusalPage(res: ServerResponse, status: number, state: RefusalPageState): void {
  // A link, not a form: signing out may redirect to the provider, which form-action 'self' would block.
  const action = state.signOut
    ? `<a class="button wide" href="${LOGOUT_PATH}">Sign out to use another account</a>`
    : `<a class="button wide" href="${escapeHtml(`${LOGIN_PATH}?next=${encodeURIComponent(state.next)}`)}">Sign in again</a>`;
  sendCardPage(res, status, {
    title: state.title,
    heading: state.title,
    content: `<div class="error" role="alert">${escapeHtml(state.message)}</div>\n${action}`,
  });
}
