import type { IncomingMessage } from 'node:http';
import { cidrMatcher, plainAddress } from '../../core/net.js';
import { BerthError } from '../../core/errors.js';
import { headerValues } from '../headerValues.js';

/**
 * Who may read /_berth/metrics: the TCP peer and every address the request's
 * forwarding headers name must lie in metrics.allowFrom. Behind a reverse
 * proxy the peer is the proxy, so the client it forwards for (in
 * X-Forwarded-For, Forwarded or X-Real-IP) is checked too; a client can only
 * add addresses to these headers, which can refuse it but never admit it.
 */
export function metricsAccess(allowFrom: readonly string[]): (req: IncomingMessage) => BerthError | null {
  const allowed = cidrMatcher(allowFrom);
  const refusal = (who: string | undefined) =>
    new BerthError({
      code: 'forbidden',
      userMessage: `/_berth/metrics answers only from metrics.allowFrom (${allowFrom.join(', ')}); scrape it from there, or add the scraper's network to that list.`,
      logMessage: `metrics read from ${who ?? 'an unknown address'} refused`,
    });
  return (req) => {
    const peer = req.socket.remoteAddress;
    if (!allowed(peer)) return refusal(peer);
    for (const address of forwardedAddresses(req)) if (!allowed(address)) return refusal(address);
    return null;
  };
}

/** Every address X-Forwarded-For, X-Real-IP and Forwarded's for= name, ports and brackets removed; anything else as it is (and so refused). */
function forwardedAddresses(req: IncomingMessage): string[] {
  const out: string[] = [];
  for (const value of [...(headerValues(req, 'x-forwarded-for') ?? []), ...(headerValues(req, 'x-real-ip') ?? [])]) {
    for (const part of value.split(',')) out.push(plainAddress(part));
  }
  for (const value of headerValues(req, 'forwarded') ?? []) {
    for (const match of value.matchAll(/for\s*=\s*("[^"]*"|[^;,\s]*)/gi)) out.push(plainAddress((match[1] as string).replace(/"/g, '')));
  }
  return out;
}
