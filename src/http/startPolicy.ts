import type { IncomingMessage } from 'node:http';

/**
 * What kind of request this is, from the browser's Fetch Metadata headers.
 * A navigation gets the loading page; a client that is no browser (no
 * Sec-Fetch-* at all: curl, scripts) may start a berth and is held until it
 * is ready; background browser traffic (fetch, XHR, WebSocket from an open
 * tab) never starts a stopped berth, so a forgotten tab does not undo the
 * idle culler's work.
 */
export type RequestKind = 'navigation' | 'script' | 'background';

export function requestKind(req: IncomingMessage): RequestKind {
  const mode = req.headers['sec-fetch-mode'];
  if (mode === 'navigate') return 'navigation';
  if (mode !== undefined || req.headers['sec-fetch-site'] !== undefined || req.headers['sec-fetch-dest'] !== undefined) {
    return 'background';
  }
  // Browsers too old for Fetch Metadata still say what a navigation wants.
  if (req.method === 'GET' && req.headers.upgrade === undefined && (req.headers.accept ?? '').includes('text/html')) {
    return 'navigation';
  }
  return 'script';
}
