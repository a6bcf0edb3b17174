/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const logo = `<svg viewBox="0 0 32 32" aria-hidden="true"><rect x="3" y="7" width="26" height="18" rx="4" fill="none" stroke="currentColor" stroke-width="2.5"/><path d="M9 14l4 3-4 3M16 20h7" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

/**
 * The frame of every gateway page: one stylesheet and same-origin scripts
 * only, so the strict Content-Security-Policy in ./security.ts holds.
 */
export function page(options: { title: string; body: string; scripts?: string[] }): string {
  const scripts = (options.scripts ?? []).map((src) => `<script src="${escapeHtml(src)}" defer></script>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)} · Berth</title>
<link rel="stylesheet" href="/_berth/assets/berth.css">
${scripts}
</head>
<body>
<main>
<div class="brand">${logo}<span>Berth</span></div>
${options.body}
</main>
</body>
</html>`;
}
