import { BlockList, isIP } from 'node:net';

/** "host:port" or "[v6]:port" as written in config and on the command line. */
export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string): HostPort | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) return null;
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  return { host: (match[1] ?? match[2]) as string, port };
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const v4 = unmapV4(host);
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return host === '::1';
}

/** "::ffff:1.2.3.4" is how Node reports IPv4 peers on dual-stack sockets. */
export function unmapV4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** An address as forwarding headers write it ("[v6]:port", "1.2.3.4:port"), without brackets or port; anything else trimmed, as it is. */
export function plainAddress(text: string): string {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed);
  if (bracketed) return bracketed[1] as string;
  // "1.2.3.4:5678": an IPv4 address with a port (an IPv6 one has more than one colon).
  const v4Port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(trimmed);
  return v4Port ? (v4Port[1] as string) : trimmed;
}

export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  if (rest.length > 0) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Verdicts a matcher remembers; a gateway sees few distinct peers (its auth proxy), a scan sees many. */
const MATCHER_MEMORY = 1024;

/**
 * A matcher for a list of CIDRs already validated by the config schema. It
 * runs on every request, and BlockList.check builds a native address object
 * each time, so verdicts are remembered per address string (forgotten all at
 * once when too many pile up).
 */
export function cidrMatcher(cidrs: readonly string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (!cidr) throw new Error(`not a CIDR: ${text}`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  const verdicts = new Map<string, boolean>();
  const check = (address: string): boolean => {
    const plain = unmapV4(address);
    const version = isIP(plain);
    return version !== 0 && list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  };
  return (address) => {
    if (!address) return false;
    let verdict = verdicts.get(address);
    if (verdict === undefined) {
      verdict = check(address);
      if (verdicts.size >= MATCHER_MEMORY) verdicts.clear();
      verdicts.set(address, verdict);
    }
    return verdict;
  };
}

/** "host:port", with an IPv6 address in brackets: how remote addresses are written for others to parse. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
