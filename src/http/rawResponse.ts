import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { noteStatus } from './accessLog.js';

/** Answers on a socket that has no ServerResponse (an Upgrade request), then closes it. */
export function writeRawJson(socket: Duplex, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  noteStatus(socket, status);
  const text = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(text)}`,
    'connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}
