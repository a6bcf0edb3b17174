import { randomBytes } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import { publicEndpoint } from './publicUrl.js';
import { isLocalAddress, resolveAll } from './localAddresses.js';
import { fail, ok, skip, warn, type CheckResult } from './types.js';

const CHECK = 'apps-domain';

/**
 * Whether app hosts reach this gateway: a random label under apps.domain must
 * resolve (so a wildcard record exists, not only a few names) to where
 * publicUrl's host does, or to this host.
 */
export async function appsDomainCheck(config: Config): Promise<CheckResult> {
  const domain = config.apps.domain;
  if (domain === null) return skip(CHECK, 'apps.domain is not set: no per-port app hosts');
  const name = `doctor-${randomBytes(4).toString('hex')}.${domain}`;
  const fix = `add a wildcard DNS record *.${domain} pointing at the gateway (or the proxy in front of it), as publicUrl's host does`;
  let addresses: string[];
  try {
    addresses = await resolveAll(name);
  } catch (err) {
    return fail(CHECK, `${name} (a random label under apps.domain) does not resolve: ${(err as Error).message}`, fix);
  }
  const endpoint = await publicEndpoint(config);
  const expected = 'problem' in endpoint ? [] : endpoint.addresses;
  if (addresses.some((a) => expected.includes(a) || isLocalAddress(a))) return ok(CHECK, `*.${domain} resolves to ${addresses.join(', ')}, this gateway`);
  return warn(CHECK, `*.${domain} resolves to ${addresses.join(', ')}, neither this host nor publicUrl's host (${expected.join(', ') || 'unresolved'})`, `${fix}; a proxy elsewhere that forwards app hosts here is fine`);
}
