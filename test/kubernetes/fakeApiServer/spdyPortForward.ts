import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import spdy from 'spdy-transport';

/*
 * Port-forward over a plain SPDY/3.1 upgrade, as the real API server and
 * kubelet speak it (k8s.io/apimachinery httpstream/spdy, kubelet
 * cri/streaming/portforward/httpstream.go), and as kubectl falls back to when
 * the API server does not take SPDY tunnelled in a WebSocket:
 *
 * - the client POSTs with `Upgrade: SPDY/3.1` and offers
 *   `X-Stream-Protocol-Version: portforward.k8s.io`; the server answers 101
 *   naming the same;
 * - per forwarded connection the client opens two streams carrying the
 *   headers `streamType` (`error` or `data`), `port` and `requestID`; the
 *   server accepts each with a reply, joins the data stream to the port
 *   inside the pod, and writes a failure to dial to the error stream.
 */

export const SPDY_UPGRADE = 'spdy/3.1';

/*
 * spdy-transport carries HTTP over SPDY, so its parser refuses a SYN_STREAM
 * without a request's `:method` and `:path`; Kubernetes' streams
 * (moby/spdystream) carry only their own headers. Its header parser is
 * given those two where they are missing, so the rest of its SPDY/3
 * machinery (framing, zlib with the SPDY dictionary, flow control) serves
 * the fake unchanged. This patches the library in the fake's process only.
 */
const parserPrototype = Object.getPrototypeOf(spdy.protocol.spdy.parser.create({})) as {
  parseKVs(buffer: unknown, callback: (err: Error | null, headers?: Record<string, string>) => void): void;
};
const parseKVs = parserPrototype.parseKVs;
parserPrototype.parseKVs = function (buffer, callback) {
  parseKVs.call(this, buffer, (err, headers) => callback(err, headers && { ':method': 'POST', ':path': '/', ...headers }));
};
const PROTOCOL = 'portforward.k8s.io';

/** Dials `port` inside the pod; rejects with the reason to show on the error stream. */
export type DialInPod = (port: number) => Promise<Duplex>;

export function spdyPortForward(req: IncomingMessage, socket: Duplex, head: Buffer, dial: DialInPod, refuse: (message: string) => void): void {
  const offered = String(req.headers['x-stream-protocol-version'] ?? '').split(',').map((p) => p.trim());
  if (!offered.includes(PROTOCOL)) return refuse(`none of the offered stream protocols (${offered.join(', ')}) is supported; use ${PROTOCOL}`);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PROTOCOL}\r\n\r\n`);
  if (head.length) socket.unshift(head);
  const connection = spdy.connection.create(socket, { protocol: 'spdy', isServer: true });
  // SPDY/3, what spdystream speaks: a 3.1 session window update is a frame it does not know.
  connection.start(3);
  connection.on('error', () => socket.destroy());
  socket.on('error', () => connection.destroyStreams());
  // The error stream of a request waits here for its data stream's dial to fail.
  const errorStreams = new Map<string, spdy.Stream>();
  connection.on('stream', (stream: spdy.Stream) => {
    stream.respond(200, {});
    stream.on('error', () => undefined);
    const { streamtype: type, port, requestid: id } = stream.headers;
    if (type === 'error') {
      errorStreams.set(String(id), stream);
      stream.on('close', () => errorStreams.delete(String(id)));
      return;
    }
    if (type !== 'data') return void stream.end();
    dial(Number(port)).then(
      (conn) => {
        conn.on('error', () => stream.destroy());
        stream.pipe(conn).pipe(stream);
      },
      (err: Error) => {
        errorStreams.get(String(id))?.end(`error forwarding port ${String(port)} to pod: ${err.message}`);
        stream.end();
      },
    );
  });
}
