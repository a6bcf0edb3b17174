import type { IncomingMessage } from 'node:http';
import { plainAddress, unmapV4 } from '../core/net.js';
import { headerValues } from './headerValues.js';

/**
 * The client's address as the proxies the operator trusts report it: from the
 * TCP peer (`peer`, taken while the request still has its socket), each hop that is a trusted proxy hands over to the address it
 * appended to X-Forwarded-For, right to left, until one is not trusted. What
 * a client writes into the header itself lies to the left of every trusted
 * hop, so it is never taken for the client unless all of them vouch for it.
 */
export function clientAddress(peer: string | undefined, req: IncomingMessage, isTrusted: (address: string) => boolean): string | null {
  if (peer === undefined) return null;
  let address = unmapV4(peer);
  if (!isTrusted(address)) return address;
  const hops = headerValues(req, 'x-forwarded-for')?.join(',').split(',') ?? [];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainAddress(hops[i] as string);
    if (hop === '') continue;
    address = unmapV4(hop);
    if (!isTrusted(address)) return address;
  }
  return address;
}
