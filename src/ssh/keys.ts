import { createHash, createPublicKey } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';

/** A user's or the gateway's public key, in every form the gateway needs. */
export interface PublicKeyInfo {
  /** The key type as in authorized_keys, e.g. "ssh-ed25519". */
  type: string;
  /** The SSH wire encoding: what clients send and fingerprints hash. */
  blob: Buffer;
  /** "SHA256:…", as `ssh-keygen -l` prints it. */
  fingerprint: string;
  comment: string;
  /** Verifies signatures made with the matching private key. */
  parsed: ParsedKey;
}

export type KeyProblem = 'private_key' | 'unsupported' | 'weak';

const ACCEPTED_TYPES = new Set(['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']);
/** RSA below this is refused, as current OpenSSH and NIST guidance do. */
const MIN_RSA_BITS = 2048;

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Reads a public key from an authorized_keys line (without options), an
 * RFC 4716 block, or the wire encoding. Private keys are recognised and
 * refused by name, so no caller ever stores or echoes one; DSA and short
 * RSA keys are refused as weak.
 */
export function readPublicKey(data: Buffer | string): { key: PublicKeyInfo } | { problem: KeyProblem } {
  const text = typeof data === 'string' ? data : null;
  if (text !== null && /PRIVATE KEY|PuTTY-User-Key-File/.test(text)) return { problem: 'private_key' };
  const parsed = ssh2.utils.parseKey(data);
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (key === undefined || key instanceof Error) return { problem: 'unsupported' };
  if (key.isPrivateKey()) return { problem: 'private_key' };
  if (!ACCEPTED_TYPES.has(key.type)) return key.type === 'ssh-dss' ? { problem: 'weak' } : { problem: 'unsupported' };
  if (key.type === 'ssh-rsa' && rsaBits(key) < MIN_RSA_BITS) return { problem: 'weak' };
  const blob = key.getPublicSSH();
  return { key: { type: key.type, blob, fingerprint: fingerprintOf(blob), comment: key.comment, parsed: key } };
}

/** The key alone, or null when it is not one the gateway accepts. */
export function parsePublicKey(data: Buffer | string): PublicKeyInfo | null {
  const result = readPublicKey(data);
  return 'key' in result ? result.key : null;
}

/**
 * The keys of authorized_keys text (a file, a label), with the checks of
 * uploaded keys. Lines with options (from=, command=, restrict, …) are
 * skipped, as are keys the gateway refuses: it cannot enforce options, and
 * honouring the key without them would grant more than the line says.
 * `skipped` is told the number (from 1) of each line skipped.
 */
export function authorizedKeysIn(text: string, skipped: (line: number) => void): PublicKeyInfo[] {
  const keys: PublicKeyInfo[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const key = parsePublicKey(line);
    if (key) keys.push(key);
    else skipped(index + 1);
  });
  return keys;
}

/** "type base64 [comment]": the authorized_keys form, also what the ContainerSSH webhook receives. */
export function authorizedKeyLine(key: PublicKeyInfo, withComment = true): string {
  const base = `${key.type} ${key.blob.toString('base64')}`;
  return withComment && key.comment ? `${base} ${key.comment}` : base;
}

function rsaBits(key: ParsedKey): number {
  return createPublicKey(key.getPublicPEM()).asymmetricKeyDetails?.modulusLength ?? 0;
}
