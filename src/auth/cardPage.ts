import type { ServerResponse } from 'node:http';
import { escapeHtml, page } from '../http/pages/html.js';
import { sendHtml } from '../http/respond.js';

/**
 * The frame of the sign-in pages of every mode (a form, a refusal): one
 * narrow card under the brand, on the gateway pages' stylesheet and CSP.
 * `content` is HTML, escaped by the caller.
 */
export function sendCardPage(
  res: ServerResponse,
  status: number,
  card: { title: string; heading: string; content: string; headers?: Record<string, string> },
): void {
  sendHtml(
    res,
    status,
    page({ title: card.title, body: `<div class="card narrow">\n<h1>${escapeHtml(card.heading)}</h1>\n${card.content}\n</div>` }),
    card.headers ?? {},
  );
}
