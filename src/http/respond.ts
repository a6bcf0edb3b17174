import type { IncomingMessage, ServerResponse } from 'node:http';
import { BerthError } from '../core/errors.js';
import { escapeHtml, page } from './pages/html.js';

/** What a page may need beyond the strict default: each for one page that needs it, never the default. */
export interface PolicyExtras {
  /** Lets `<style>` elements carrying this nonce apply (the terminal page: xterm.js sizes its grid with them). */
  styleNonce?: string;
  /** Lets scripts compile WebAssembly, and nothing else eval-like (pages that play recordings: asciinema-player's parser). */
  wasm?: boolean;
}

/**
 * The gateway pages' Content-Security-Policy: same-origin scripts, styles
 * and requests only, no inline code. `formActionOrigins` are further origins
 * a form may end up at: browsers apply form-action to the redirects after a
 * submit too, so the sign-in form that redirects to the provider names it.
 */
export function contentSecurityPolicy(formActionOrigins: readonly string[] = [], extras: PolicyExtras = {}): string {
  const formAction = ["'self'", ...formActionOrigins].join(' ');
  const script = extras.wasm ? "'self' 'wasm-unsafe-eval'" : "'self'";
  const style = extras.styleNonce === undefined ? "'self'" : `'self' 'nonce-${extras.styleNonce}'`;
  return `default-src 'none'; script-src ${script}; style-src ${style}; img-src 'self' data:; connect-src 'self'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

/** Headers on every page the gateway itself serves (never on proxied responses: those belong to the app). */
export const GATEWAY_PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': contentSecurityPolicy(),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** A browser asking for a page, as opposed to a script or fetch wanting data. */
export function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html');
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    ...GATEWAY_PAGE_HEADERS,
    ...headers,
  });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string, status = 303, headers: Record<string, string> = {}): void {
  res.writeHead(status, { location, 'content-length': 0, 'cache-control': 'no-store', ...headers });
  res.end();
}

/**
 * The answer to a URL carrying a secret (?berth_token=): to the same URL
 * without it, and no Referer from this page, so the secret goes nowhere the
 * first request did not already take it.
 */
export function redirectDroppingSecret(res: ServerResponse, location: string): void {
  redirect(res, location, 303, { 'referrer-policy': 'no-referrer' });
}

/** The error as a page for browsers and as `{"error": {code, message}}` for everyone else. */
export function sendError(req: IncomingMessage, res: ServerResponse, error: BerthError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (wantsHtml(req)) {
    sendHtml(
      res,
      error.status,
      page({
        title: 'Something needs attention',
        body: `<div class="card"><h1>${escapeHtml(statusTitle(error.status))}</h1><p>${escapeHtml(error.userMessage)}</p><p class="muted">Error code: ${escapeHtml(error.code)}</p></div>`,
      }),
      headers,
    );
  } else {
    sendJson(res, error.status, { error: { code: error.code, message: error.userMessage } }, headers);
  }
}

function statusTitle(status: number): string {
  if (status === 401) return 'Please sign in';
  if (status === 403) return 'Not allowed';
  if (status === 404) return 'Not found';
  if (status === 502) return 'Your app did not answer';
  if (status === 503) return 'Not available right now';
  return 'Something went wrong';
}

export async function readJsonBody(req: IncomingMessage, limitBytes = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new BerthError({ code: 'bad_request', userMessage: `The request body is larger than ${limitBytes} bytes.` });
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BerthError({ code: 'bad_request', userMessage: 'The request body is not valid JSON.' });
  }
}
