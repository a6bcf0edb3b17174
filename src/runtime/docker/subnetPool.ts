import { isIP } from 'node:net';
import { cidrMatcher, parseCidr, unmapV4 } from '../../core/net.js';

/**
 * The range (runtime.docker.subnetPool) that berths' own networks on Podman
 * take their subnets from, one /29 each: the host's address on the bridge
 * is the block's first host (.1 of every 8), the berth gets the next. Cut
 * from one known range so every gateway, whichever made a berth, tells a
 * berth's address from anyone else's without asking the engine.
 */
export const BLOCK_PREFIX = 29;
const BLOCK_SIZE = 2 ** (32 - BLOCK_PREFIX);

export interface SubnetPool {
  /** As configured, for messages. */
  readonly cidr: string;
  /** How many berth networks the pool holds. */
  readonly blocks: number;
  /** The i-th /29, e.g. "10.80.0.8/29". */
  block(index: number): string;
  /** The host's address on the i-th block's bridge, its first, e.g. "10.80.0.9". */
  gateway(index: number): string;
  /** Whether a subnet (IPv4 or IPv6 CIDR) shares an address with the i-th block. */
  overlaps(index: number, subnet: string): boolean;
  /** An address a berth in the pool can have: in the pool, and not the host's end of a block's bridge. */
  isBerthAddress(address: string | undefined): boolean;
}

export function subnetPool(cidr: string): SubnetPool {
  const parsed = parseCidr(cidr);
  if (parsed === null || parsed.family !== 'ipv4' || parsed.prefix > BLOCK_PREFIX) throw new Error(`not an IPv4 CIDR of /${BLOCK_PREFIX} or wider: ${cidr}`);
  const base = networkOf(toInt(parsed.address), parsed.prefix);
  const blocks = 2 ** (BLOCK_PREFIX - parsed.prefix);
  const inPool = cidrMatcher([cidr]);
  return {
    cidr,
    blocks,
    block: (index) => `${toText(base + index * BLOCK_SIZE)}/${BLOCK_PREFIX}`,
    gateway: (index) => toText(base + index * BLOCK_SIZE + 1),
    overlaps(index, subnet) {
      const other = parseCidr(subnet);
      if (other === null || other.family !== 'ipv4') return false;
      const start = base + index * BLOCK_SIZE;
      const otherStart = networkOf(toInt(other.address), other.prefix);
      const otherEnd = otherStart + 2 ** (32 - other.prefix);
      return start < otherEnd && otherStart < start + BLOCK_SIZE;
    },
    isBerthAddress(address) {
      if (!inPool(address)) return false;
      const plain = unmapV4(address as string);
      return isIP(plain) === 4 && toInt(plain) % BLOCK_SIZE !== 1;
    },
  };
}

function toInt(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function toText(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function networkOf(address: number, prefix: number): number {
  const size = 2 ** (32 - prefix);
  return Math.floor(address / size) * size;
}
