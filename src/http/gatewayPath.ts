/** The gateway's own namespace: everything else belongs to the user's berth. */
export const GATEWAY_PREFIX = '/_berth/';

/** Whether a request path (no query) is the gateway's own, not the berth's. */
export function isGatewayPath(path: string): boolean {
  return path.startsWith(GATEWAY_PREFIX) || path === '/_berth';
}

/** The path of a request URL without the query: the query may carry tokens and never reaches a log. */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
