import type { PublicKeyInfo } from '../keys.js';

/** What every authority is told about an attempt; the fields of ContainerSSH's webhook requests. */
export interface AttemptInfo {
  /** The SSH username the client sent, in NFC (parseUsername). */
  username: string;
  /** "ip:port" of the client. */
  remoteAddress: string;
  connectionId: string;
  /** The client's identification string, e.g. "SSH-2.0-OpenSSH_9.2p1". */
  clientVersion: string;
}

/** `user` is whose berth the connection opens: the SSH username, or the webhook's authenticatedUsername. */
export type Verdict = { allowed: true; user: string } | { allowed: false };

export const DENIED: Verdict = { allowed: false };

/** A source of public keys users may log in with. */
export interface KeyAuthority {
  /** Names the source in logs: "authorized_keys", "stored", "webhook". */
  readonly name: string;
  checkKey(attempt: AttemptInfo, key: PublicKeyInfo): Promise<Verdict>;
}

/** Passwords are only ever checked by someone else (the webhook); the gateway keeps none. */
export interface PasswordAuthority {
  readonly name: string;
  checkPassword(attempt: AttemptInfo, password: string): Promise<Verdict>;
}
