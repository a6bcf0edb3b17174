import { LOGOUT_PATH } from '../../auth/paths.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const logo = `<svg viewBox="0 0 32 32" aria-hidden="true"><rect x="3" y="7" width="26" height="18" rx="4" fill="none" stroke="currentColor" stroke-width="2.5"/><path d="M9 14l4 3-4 3M16 20h7" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

export interface Navigation {
  user: string;
  admin: boolean;
  current: 'dashboard' | 'admin' | null;
  /** False behind an auth proxy (header mode), which has its own sign-out. */
  signOut: boolean;
}

export interface PageOptions {
  title: string;
  body: string;
  scripts?: string[];
  /** Stylesheets after berth.css (same-origin). */
  styles?: string[];
  /** The session's CSRF token, for scripts that post (read from <meta name="berth-csrf">). */
  csrfToken?: string;
  /** The signed-in top bar: dashboard, admin, open the berth, sign out. */
  nav?: Navigation;
  /** Dashboard-width layout. */
  wide?: boolean;
}

/** Sign out is a link: in oidc mode it redirects to the provider, which the pages' form-action 'self' would block for a form. */
function topbar(nav: Navigation): string {
  const link = (href: string, label: string, current: boolean) =>
    `<a href="${href}"${current ? ' aria-current="page"' : ''}>${label}</a>`;
  return `<header class="topbar">
<a class="brand" href="/_berth/">${logo}<span>Berth</span></a>
<nav aria-label="Gateway">
${link('/_berth/', 'Dashboard', nav.current === 'dashboard')}
${nav.admin ? link('/_berth/admin', 'Admin', nav.current === 'admin') : ''}
<a href="/">Open berth</a>
<span class="who">${escapeHtml(nav.user)}</span>
${nav.signOut ? `<a href="${LOGOUT_PATH}">Sign out</a>` : ''}
</nav>
</header>`;
}

/**
 * The frame of every gateway page: one stylesheet and same-origin scripts
 * only, so the strict Content-Security-Policy of respond.ts holds.
 */
export function page(options: PageOptions): string {
  const scripts = (options.scripts ?? []).map((src) => `<script src="${escapeHtml(src)}" defer></script>`).join('\n');
  const csrf = options.csrfToken === undefined ? '' : `<meta name="berth-csrf" content="${escapeHtml(options.csrfToken)}">\n`;
  const header = options.nav ? topbar(options.nav) : `<div class="brand">${logo}<span>Berth</span></div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
${csrf}<title>${escapeHtml(options.title)} · Berth</title>
<link rel="stylesheet" href="/_berth/assets/berth.css">
${(options.styles ?? []).map((href) => `<link rel="stylesheet" href="${escapeHtml(href)}">\n`).join('')}${scripts}
</head>
<body>
<a class="skip" href="#content">Skip to content</a>
<main${options.wide ? ' class="wide"' : ''}>
${header}
<div id="content">
${options.body}
</div>
</main>
</body>
</html>`;
}
