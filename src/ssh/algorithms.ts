import type { Algorithms, NegotiatedAlgorithms } from 'ssh2';

/**
 * What the gateway offers, and nothing older: every OpenSSH since 6.5 (2014),
 * PuTTY 0.68+, and the Go and Rust SSH libraries agree on these. ssh2's own
 * defaults also offer CBC, SHA-1 MACs and NIST curves for old clients; a
 * gateway in front of people's work has no such clients to serve.
 */
export const MODERN_ALGORITHMS = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'],
  // AES-GCM first: with AES-NI it is the fastest for bulk copies (scp, sftp); ChaCha20 for CPUs without.
  cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com'],
  // Unused with the AEAD ciphers above, but the protocol needs a MAC list; etm only.
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  serverHostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
  compress: ['none'],
} satisfies Algorithms;

/**
 * ssh2 offers ssh-rsa (SHA-1 signatures) beside rsa-sha2-* whenever it holds
 * an RSA host key, whatever the list says; a client that picks it is turned
 * away right after key exchange, before it can authenticate. Returns what was
 * too weak, or null.
 */
export function tooWeak(negotiated: NegotiatedAlgorithms): string | null {
  const offered: readonly string[] = MODERN_ALGORITHMS.serverHostKey;
  return offered.includes(negotiated.serverHostKey) ? null : `host key algorithm ${negotiated.serverHostKey}`;
}
