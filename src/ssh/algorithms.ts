import type { Algorithms, NegotiatedAlgorithms } from 'ssh2';
import type { Config } from '../config/schema.js';

/**
 * What the gateway offers, and nothing older: every OpenSSH since 6.5 (2014),
 * PuTTY 0.68+, and the Go and Rust SSH libraries agree on these. ssh2's own
 * defaults also offer CBC, SHA-1 MACs and NIST curves for old clients; a
 * gateway in front of people's work has no such clients to serve.
 */
export const MODERN_ALGORITHMS = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'],
  // The client's order decides which is used (RFC 4253 §7.1); OpenSSH's puts ChaCha20 first.
  cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com'],
  // Unused with the AEAD ciphers above, but the protocol needs a MAC list; etm only.
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  serverHostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
  compress: ['none'],
} satisfies Algorithms;

export interface OfferedAlgorithms {
  kex: string[];
  cipher: string[];
  hmac: string[];
  serverHostKey: string[];
  compress: string[];
}

/** What the gateway offers: ssh.algorithms' lists where set, the modern defaults above where not. */
export function offeredAlgorithms(configured: Config['ssh']['algorithms']): OfferedAlgorithms {
  return {
    kex: configured.kex ?? MODERN_ALGORITHMS.kex,
    cipher: configured.cipher ?? MODERN_ALGORITHMS.cipher,
    hmac: configured.hmac ?? MODERN_ALGORITHMS.hmac,
    serverHostKey: configured.serverHostKey ?? MODERN_ALGORITHMS.serverHostKey,
    compress: MODERN_ALGORITHMS.compress,
  };
}

/**
 * ssh2 offers ssh-rsa (SHA-1 signatures) beside rsa-sha2-* whenever it holds
 * an RSA host key, whatever the list says; a client that picks it is turned
 * away right after key exchange, before it can authenticate. Returns what was
 * outside the offered host key algorithms, or null.
 */
export function tooWeak(negotiated: NegotiatedAlgorithms, offered: OfferedAlgorithms): string | null {
  return offered.serverHostKey.includes(negotiated.serverHostKey) ? null : `host key algorithm ${negotiated.serverHostKey}`;
}
