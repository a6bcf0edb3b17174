import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface VendorAsset {
  path: string;
  type: string;
  body: Buffer;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** Browser builds of the packages the terminal and the recording player run on, by the path each is served at. */
const FILES: Array<{ path: string; type: string; module: string }> = [
  { path: '/_berth/assets/xterm.js', type: JS, module: '@xterm/xterm/lib/xterm.js' },
  { path: '/_berth/assets/xterm.css', type: CSS, module: '@xterm/xterm/css/xterm.css' },
  { path: '/_berth/assets/xterm-addon-fit.js', type: JS, module: '@xterm/addon-fit/lib/addon-fit.js' },
  { path: '/_berth/assets/xterm-addon-web-links.js', type: JS, module: '@xterm/addon-web-links/lib/addon-web-links.js' },
  { path: '/_berth/assets/xterm-addon-search.js', type: JS, module: '@xterm/addon-search/lib/addon-search.js' },
  { path: '/_berth/assets/asciinema-player.js', type: JS, module: 'asciinema-player/dist/bundle/asciinema-player.min.js' },
  { path: '/_berth/assets/asciinema-player.css', type: CSS, module: 'asciinema-player/dist/bundle/asciinema-player.css' },
];

/**
 * Served by the gateway itself, from the installed packages (no CDN: the
 * pages' Content-Security-Policy allows their own origin only). Read once,
 * when the routes are made; a missing package is an installation fault and
 * fails the start, naming it.
 */
export function vendorAssets(): VendorAsset[] {
  const require = createRequire(import.meta.url);
  return FILES.map(({ path, type, module }) => ({ path, type, body: readFileSync(require.resolve(module)) }));
}
