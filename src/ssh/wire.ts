import type { Connection, RejectConnection } from 'ssh2';

/*
 * Two messages of the SSH protocol that carry text for the person at the
 * client, which ssh2's public API sends without it: DISCONNECT's description
 * (ssh prints "Received disconnect from …: <description>") and
 * CHANNEL_OPEN_FAILURE's (ssh prints "open failed: administratively
 * prohibited: <description>"). Both go through the connection's own protocol
 * object (ssh2 1.x internals, used only here); should those change, the
 * plain message is sent without the text, as before.
 */

/** RFC 4253 §11.1. */
export const DISCONNECT = { keyExchangeFailed: 3, byApplication: 11, noMoreAuthMethods: 14 } as const;
/** RFC 4254 §5.1. */
export const OPEN_FAILURE = { administrativelyProhibited: 1, connectFailed: 2 } as const;

export type OpenFailureCode = (typeof OPEN_FAILURE)[keyof typeof OPEN_FAILURE];
export type DisconnectCode = (typeof DISCONNECT)[keyof typeof DISCONNECT];

interface PacketWriter {
  allocStartKEX: number;
  alloc(size: number, force: boolean): Buffer;
  finalize(packet: Buffer, force: boolean): Buffer;
}

interface ProtocolInternals {
  _packetRW?: { write?: PacketWriter };
  _cipher?: { encrypt(packet: Buffer): void };
  channelOpenFail?: (remote: number, reason: number, description: string) => void;
}

interface ConnectionInternals {
  _protocol?: ProtocolInternals;
  _sock?: { writable: boolean; end(): void };
}

const MESSAGE_DISCONNECT = 1;

/**
 * Sends DISCONNECT with `description` and closes, as sshd does after
 * "Too many authentication failures". Safe at any point after the version
 * exchange, during a key exchange too (the message bypasses the rekey queue,
 * as ssh2's own disconnect does).
 */
export function disconnectWithReason(client: Connection, code: DisconnectCode, description: string): void {
  const { _protocol: proto, _sock: socket } = client as unknown as ConnectionInternals;
  const writer = proto?._packetRW?.write;
  const cipher = proto?._cipher;
  if (!writer || !cipher || typeof writer.alloc !== 'function' || !socket) {
    client.end();
    return;
  }
  if (!socket.writable) return;
  const text = Buffer.from(description, 'utf8');
  let at = writer.allocStartKEX;
  const packet = writer.alloc(1 + 4 + 4 + text.length + 4, true);
  packet[at++] = MESSAGE_DISCONNECT;
  at = packet.writeUInt32BE(code, at);
  at = packet.writeUInt32BE(text.length, at);
  at += text.copy(packet, at);
  packet.writeUInt32BE(0, at); // empty language tag
  cipher.encrypt(writer.finalize(packet, true));
  socket.end();
}

/** Refuses a channel the client asked to open, telling it why. */
export type RefuseChannel = (reject: RejectConnection, code: OpenFailureCode, description: string) => void;

/**
 * A RefuseChannel for the connection. ssh2's reject() frees the channel it
 * reserved and sends CHANNEL_OPEN_FAILURE with no text; for the length of
 * that call the failure is given the code and the text asked for.
 */
export function channelRefuser(client: Connection): RefuseChannel {
  const proto = (client as unknown as ConnectionInternals)._protocol;
  const send = proto?.channelOpenFail;
  if (!proto || typeof send !== 'function') return (reject) => reject();
  let pending: { code: OpenFailureCode; description: string } | null = null;
  proto.channelOpenFail = (remote, reason, description) =>
    pending === null ? send.call(proto, remote, reason, description) : send.call(proto, remote, pending.code, pending.description);
  return (reject, code, description) => {
    pending = { code, description };
    try {
      reject();
    } finally {
      pending = null;
    }
  };
}
