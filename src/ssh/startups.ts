import { isIP } from 'node:net';
import type { MaxStartups } from '../config/maxStartups.js';
import { unmapV4 } from '../core/net.js';

/** Why a new connection was refused before it said anything; stable, for logs and metrics. */
export type StartupRefusal = 'max_startups_full' | 'max_startups_early_drop' | 'per_source_max_startups';

export type StartupVerdict = { admitted: true; release: () => void } | { admitted: false; code: StartupRefusal; unauthenticated: number };

/**
 * Counts connections that have not yet authenticated, over all and per
 * source, and decides whether a new one may start, as sshd's MaxStartups and
 * PerSourceMaxStartups do: refused past the per-source cap (0: none) or past
 * `full`, and between `start` and `full` refused at random with a
 * probability rising from `rate` % to 100 %, so a flood cannot take every
 * slot while real clients, retrying, still get in. A source is one IPv4
 * address, or one IPv6 /64 (what one host is usually given).
 */
export class StartupGate {
  private total = 0;
  private readonly bySource = new Map<string, number>();

  constructor(
    private readonly limits: MaxStartups,
    private readonly perSource: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The verdict for a new connection from `address`; an admitted one holds its slot until `release` (idempotent). */
  admit(address: string): StartupVerdict {
    const source = sourceOf(address);
    const fromSource = this.bySource.get(source) ?? 0;
    const refused = this.refusal(fromSource);
    if (refused !== null) return { admitted: false, code: refused, unauthenticated: this.total };
    this.total++;
    this.bySource.set(source, fromSource + 1);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.bySource.get(source) ?? 1) - 1;
        if (left === 0) this.bySource.delete(source);
        else this.bySource.set(source, left);
      },
    };
  }

  /** Connections admitted and not yet released. */
  get unauthenticated(): number {
    return this.total;
  }

  private refusal(fromSource: number): StartupRefusal | null {
    if (this.perSource > 0 && fromSource >= this.perSource) return 'per_source_max_startups';
    const { start, rate, full } = this.limits;
    if (this.total >= full) return 'max_startups_full';
    if (this.total < start) return null;
    // sshd's drop(): rate % at start, rising linearly to 100 % at full.
    const percent = rate + ((100 - rate) * (this.total - start)) / (full - start);
    return this.random() * 100 < percent ? 'max_startups_early_drop' : null;
  }
}

/** The address as a source: IPv4 as it is, IPv6 by its first 64 bits. */
export function sourceOf(address: string): string {
  const plain = unmapV4(address);
  if (isIP(plain) !== 6) return plain;
  return `${expandV6(plain).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, "::" filled in and a zone dropped. */
function expandV6(address: string): string[] {
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const groups = (text: string) => (text === '' ? [] : text.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const fill = Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => '0');
  return [...left, ...fill, ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}
