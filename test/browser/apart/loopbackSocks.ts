import { rmSync } from 'node:fs';
import { createConnection, createServer, isIPv4, isIPv6, type Socket } from 'node:net';

/*
 * A SOCKS5 server on a Unix socket, the only way out of the network
 * namespace the harness's Chromium runs in (apart/relay.mjs carries its
 * connections here). It connects only to this machine's loopback: every host
 * name to 127.0.0.1, as the tests' made-up names (berth.example.com,
 * *.apps.test) always meant, and an address only if it is a loopback one.
 */

const VERSION = 5;
const NO_AUTHENTICATION = 0;
const CONNECT = 1;
const IPV4 = 1;
const DOMAIN = 3;
const IPV6 = 4;
const SUCCEEDED = 0;
const NOT_ALLOWED = 2;
const REFUSED = 5;
const COMMAND_NOT_SUPPORTED = 7;
const ADDRESS_TYPE_NOT_SUPPORTED = 8;

export interface LoopbackSocks {
  close(): Promise<void>;
}

export async function startLoopbackSocks(path: string): Promise<LoopbackSocks> {
  const clients = new Set<Socket>();
  const server = createServer((client) => {
    clients.add(client);
    client.once('close', () => clients.delete(client));
    client.on('error', () => client.destroy());
    void serve(client).catch(() => client.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of clients) client.destroy();
        server.close(() => {
          rmSync(path, { force: true });
          resolve();
        });
      }),
  };
}

async function serve(client: Socket): Promise<void> {
  const read = reader(client);
  const [version, methods] = await read(2);
  await read(methods ?? 0);
  if (version !== VERSION) return void client.destroy();
  client.write(Buffer.from([VERSION, NO_AUTHENTICATION]));
  const [, command, , addressType] = await read(4);
  const host = await destination(read, addressType);
  const port = (await read(2)).readUInt16BE(0);
  if (command !== CONNECT) return answer(client, COMMAND_NOT_SUPPORTED);
  if (host === null) return answer(client, ADDRESS_TYPE_NOT_SUPPORTED);
  if (!isLoopback(host)) return answer(client, NOT_ALLOWED);
  const upstream = createConnection({ host, port });
  upstream.once('error', () => {
    answer(client, REFUSED);
    upstream.destroy();
  });
  upstream.once('connect', () => {
    upstream.removeAllListeners('error');
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.write(Buffer.from([VERSION, SUCCEEDED, 0, IPV4, 0, 0, 0, 0, 0, 0]));
    const early = read.rest();
    if (early.length > 0) upstream.write(early);
    client.pipe(upstream).pipe(client);
  });
}

/** Where the request asks to go: a name means loopback; null for an address type SOCKS5 has not got. */
async function destination(read: Reader, addressType: number | undefined): Promise<string | null> {
  if (addressType === IPV4) return [...(await read(4))].join('.');
  if (addressType === IPV6) {
    const bytes = await read(16);
    return Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(':');
  }
  if (addressType === DOMAIN) {
    const [length] = await read(1);
    await read(length ?? 0);
    return '127.0.0.1';
  }
  return null;
}

function isLoopback(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.');
  return isIPv6(host) && host === '0:0:0:0:0:0:0:1';
}

function answer(client: Socket, reply: number): void {
  client.end(Buffer.from([VERSION, reply, 0, IPV4, 0, 0, 0, 0, 0, 0]));
}

type Reader = ((count: number) => Promise<Buffer>) & { rest(): Buffer };

/** Reads exactly `count` bytes at a time from `socket` until rest() hands back what came early and stops reading. */
function reader(socket: Socket): Reader {
  let buffered = Buffer.alloc(0);
  let wake: (() => void) | null = null;
  let ended = false;
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  };
  socket.on('data', onData);
  socket.once('end', () => {
    ended = true;
    wake?.();
  });
  const read = async (count: number) => {
    while (buffered.length < count) {
      if (ended) throw new Error('the client closed mid-request');
      await new Promise<void>((resolve) => (wake = resolve));
    }
    const taken = buffered.subarray(0, count);
    buffered = buffered.subarray(count);
    return taken;
  };
  return Object.assign(read, {
    rest() {
      socket.off('data', onData);
      socket.pause();
      const early = buffered;
      buffered = Buffer.alloc(0);
      return early;
    },
  });
}
