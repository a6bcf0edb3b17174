import type { ServerResponse } from 'node:http';
import { escapeHtml } from '../../http/pages/html.js';
import { sendCardPage } from '../cardPage.js';
import { LOGIN_PATH } from '../paths.js';

export interface LoginPageState {
  next: string;
  username?: string;
  error?: string;
}

/** The dev login form: no script, the shared stylesheet, and it may post only to itself (the gateway pages' CSP). */
export function sendLoginPage(res: ServerResponse, status: number, { next, username = '', error }: LoginPageState): void {
  sendCardPage(res, status, {
    title: 'Sign in',
    heading: 'Sign in',
    content: `<p class="muted">Development sign-in: any username is accepted without a password. Use it on your own machine only.</p>
${error === undefined ? '' : `<div class="error" role="alert">${escapeHtml(error)}</div>`}
<form method="post" action="${LOGIN_PATH}">
<input type="hidden" name="next" value="${escapeHtml(next)}">
<div class="field"><label for="username">Username</label>
<input type="text" id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="256" required autofocus></div>
<button type="submit" class="wide">Sign in</button>
</form>`,
  });
}
