/**
 * ssh.maxStartups, written as OpenSSH's MaxStartups: "start:rate:full" (or a
 * single number N, meaning N:100:N). Below `start` unauthenticated
 * connections every new one is taken; from `start` on, a new one is refused
 * with probability `rate` percent, rising linearly to 100 % at `full`.
 */
export interface MaxStartups {
  start: number;
  rate: number;
  full: number;
}

export const MAX_STARTUPS_FORMAT =
  'expected "start:rate:full" as OpenSSH writes MaxStartups, e.g. "10:30:100" (start and full counts with start ≤ full, rate a percentage from 0 to 100), or one number';

/** The parsed value, or null when the text is not of that form. */
export function parseMaxStartups(text: string): MaxStartups | null {
  const parts = text.trim().split(':');
  if (!parts.every((p) => /^\d{1,9}$/.test(p))) return null;
  const numbers = parts.map(Number);
  if (numbers.length === 1) {
    const [full = 0] = numbers;
    return full >= 1 ? { start: full, rate: 100, full } : null;
  }
  if (numbers.length !== 3) return null;
  const [start = 0, rate = 0, full = 0] = numbers;
  if (start < 1 || start > full || rate > 100) return null;
  return { start, rate, full };
}
