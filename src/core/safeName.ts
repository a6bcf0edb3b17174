import { createHash } from 'node:crypto';

/**
 * Safe names turn usernames into DNS labels for container, volume, pod, host
 * and directory names.
 *
 * Rule: a username that is already a "plain" label (lowercase a-z, 0-9 and
 * single inner hyphens, starting with a letter, at most 40 characters, not
 * ending in what looks like a hash suffix) maps to itself. Every other
 * username maps to a readable stem plus "-x" and a 10-character hash of the
 * exact username. Plain names never end in "-x" followed by the hash form
 * (they may not contain "--" nor match /-x[a-z2-7]{10}$/), so the two sets
 * cannot collide, and distinct non-plain names differ in their hash (50 bits;
 * a collision needs ~2^25 names). The result is at most 40 characters, leaving
 * room for a prefix ("berth-") and a suffix ("-home", "-65535") inside DNS's
 * 63 so that two of them fit in one label with the apps domain's port.
 */
export const SAFE_NAME_MAX = 40;
const PLAIN_MAX = 40;
const STEM_MAX = 28;
const HASH_SUFFIX = /-x[a-z2-7]{10}$/;
const PLAIN = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*$/;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function hash10(input: string): string {
  const digest = createHash('sha256').update(input, 'utf8').digest();
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 10) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 10) break;
  }
  return out;
}

export function isPlainName(name: string): boolean {
  return name.length <= PLAIN_MAX && PLAIN.test(name) && !HASH_SUFFIX.test(name);
}

export function safeName(username: string): string {
  if (isPlainName(username)) return username;
  const stem = username
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, STEM_MAX)
    .replace(/-+$/, '');
  return `${stem || 'u'}-x${hash10(username)}`;
}

/** Usernames the gateway accepts at all: printable, no control characters, bounded. */
export const USERNAME_MAX = 256;
export function usernameProblem(username: string): string | null {
  if (username.length === 0) return 'the username is empty';
  if (username.length > USERNAME_MAX) return `the username is longer than ${USERNAME_MAX} characters`;
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(username)) return 'the username contains control characters';
  // A lone surrogate has no UTF-8 form; U+FFFD is what a decoder puts where bytes were not UTF-8 (SSH's does).
  if (/[\p{Cs}\uFFFD]/u.test(username)) return 'the username is not valid UTF-8 text';
  if (username.trim() !== username) return 'the username starts or ends with white space';
  return null;
}

/**
 * The one form of a username, whichever way it arrived (header, OpenID claim,
 * SSH, dev login): Unicode NFC, so "ålice" typed composed or decomposed is one
 * user with one berth, safe name and SSH login. NFC, not NFKC: compatibility
 * forms such as the "ﬁ" ligature stay what the user's directory calls them.
 */
export function parseUsername(raw: string): { name: string } | { problem: string } {
  const name = raw.normalize('NFC');
  const problem = usernameProblem(name);
  return problem === null ? { name } : { problem };
}
