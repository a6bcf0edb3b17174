import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { stylesheet } from '../../http/assets/style.js';
import { LOGIN_PATH } from '../paths.js';

const styleHash = createHash('sha256').update(stylesheet, 'utf8').digest('base64');

// The page has no script and one inline stylesheet allowed by its hash, and may
// post only to itself: nothing injected into it could run or send the form elsewhere.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${styleHash}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface LoginPageState {
  next: string;
  username?: string;
  error?: string;
}

function render({ next, username = '', error }: LoginPageState): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Berth</title>
<style>${stylesheet}</style>
</head>
<body>
<main>
<div class="brand"><svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><path d="M3 17c3 2 6 2 9 0s6-2 9 0"/><path d="M5 13l1-6h12l1 6"/><path d="M12 3v4"/></svg>Berth</div>
<div class="card">
<h1>Sign in</h1>
<p class="muted">Development sign-in: any username is accepted without a password. Use it on your own machine only.</p>
${error === undefined ? '' : `<div class="error" role="alert">${escapeHtml(error)}</div>`}
<form method="post" action="${LOGIN_PATH}">
<input type="hidden" name="next" value="${escapeHtml(next)}">
<p><label for="username">Username</label>
<input type="text" id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="256" required autofocus></p>
<button type="submit">Sign in</button>
</form>
</div>
</main>
</body>
</html>
`;
}

export function sendLoginPage(res: ServerResponse, status: number, state: LoginPageState): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  });
  res.end(render(state));
}
