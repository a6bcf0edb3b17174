import { escapeHtml } from './html.js';

export interface TerminalPageOptions {
  /** The signed-in user. */
  user: string;
  /** Whose berth the terminal opens: the user's own, or another's for an admin (terminal.adminAccess). */
  owner: string;
  csrfToken: string;
  /** The nonce of this response's CSP, which xterm.js's own <style> elements carry. */
  styleNonce: string;
}

/**
 * GET /_berth/terminal: a full-window shell in the berth. The page is a
 * frame; assets/terminal.ts does the work over the terminal socket.
 */
export function terminalPage(options: TerminalPageOptions): string {
  const other = options.owner !== options.user;
  const title = other ? `Terminal of ${options.owner}` : 'Terminal';
  const scripts = ['common.js', 'xterm.js', 'xterm-addon-fit.js', 'xterm-addon-web-links.js', 'xterm-addon-search.js', 'terminal.js'];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="berth-csrf" content="${escapeHtml(options.csrfToken)}">
<meta name="berth-style-nonce" content="${escapeHtml(options.styleNonce)}">
<title>${escapeHtml(title)} · Berth</title>
<link rel="stylesheet" href="/_berth/assets/berth.css">
<link rel="stylesheet" href="/_berth/assets/xterm.css">
<link rel="stylesheet" href="/_berth/assets/terminal.css">
${scripts.map((s) => `<script src="/_berth/assets/${s}" defer></script>`).join('\n')}
</head>
<body class="terminal-page">
<header class="term-bar">
<a class="brand" href="/_berth/">Berth</a>
<span>${escapeHtml(title)}</span>
<span id="term-status" role="status" data-kind="wait">connecting…</span>
<span id="term-notices" aria-live="polite"></span>
<span class="grow"></span>
<label for="term-search" class="visually-hidden">Search the terminal</label>
<input type="search" id="term-search" placeholder="Search (Enter)" autocomplete="off" spellcheck="false">
<button type="button" class="danger small" id="term-close">Close terminal</button>
</header>
<div id="terminal" data-owner="${other ? escapeHtml(options.owner) : ''}"></div>
</body>
</html>`;
}
