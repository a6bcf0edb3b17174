import { createHmac, timingSafeEqual } from 'node:crypto';

export function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/**
 * One key per purpose from the one configured secret, so a value signed for
 * one use (a session cookie) can never be replayed as another (a CSRF token).
 */
export function deriveKey(secret: string, purpose: string): Buffer {
  return hmac(Buffer.from(secret, 'utf8'), `berth/${purpose}`);
}

/**
 * Compares encoded MACs as text, in constant time for equal lengths (fixed by
 * the format, so comparing lengths first leaks nothing). Text, not decoded
 * bytes: base64url decoding ignores the last character's spare bits and stray
 * characters, so several strings decode to one MAC and a tampered value would pass.
 */
export function equalText(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
