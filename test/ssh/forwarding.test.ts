import assert from 'node:assert/strict';
import { get } from 'node:http';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { background, closeSetup, gatewayForAlice, logged, run, sshArgs, until, type ClientKey, type Gateway, type Scratch } from './harness.js';
import { forEachRuntime } from './runtimes.js';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** GET / through a local port: the body, or the error's code when the connection fails. */
function fetchVia(port: number): Promise<{ body?: string; error?: string }> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

/** GET / from host:port through a SOCKS5 proxy (RFC 1928, no authentication, host by name): the raw response. */
async function getThroughSocks(proxyPort: number, host: string, port: number): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port: proxyPort });
  socket.setTimeout(5000, () => socket.destroy(new Error('SOCKS proxy timed out')));
  const replies = socket[Symbol.asyncIterator]();
  const reply = async () => ((await replies.next()).value as Buffer | undefined) ?? Buffer.alloc(0);
  await once(socket, 'connect');
  socket.write(Buffer.from([5, 1, 0]));
  assert.deepEqual([...(await reply())], [5, 0], 'SOCKS greeting');
  const name = Buffer.from(host);
  socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([port >> 8, port & 255])]));
  assert.equal((await reply())[1], 0, 'SOCKS connect succeeded');
  socket.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
  let response = '';
  for (let chunk = await reply(); chunk.length > 0; chunk = await reply()) response += chunk.toString('utf8');
  return response;
}

/** A python3 TCP server (on the host for local berths, in the Debian image for docker ones) answering one HTTP/1.0 line with where it listens. */
function addressEcho(address: string, port: number): string[] {
  const script = [
    'import socket, sys',
    's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()',
    'while True:',
    '    c, _ = s.accept(); c.recv(4096); c.sendall(("HTTP/1.0 200 OK\\r\\n\\r\\nberth on " + sys.argv[1]).encode()); c.close()',
  ].join('\n');
  return ['python3', '-c', script, address, String(port)];
}

await forEachRuntime((runtime) => {
  describe(`ssh port forwarding (${runtime.kind})`, () => {
    let gateway: Gateway;
    let scratch: Scratch;
    let key: ClientKey;
    let berthPort: number;

    before(async () => {
      ({ gateway, scratch, key } = await gatewayForAlice(undefined, runtime));
      await gateway.parts.spawner.ready('alice', 'http');
      berthPort = await runtime.webPort(gateway, 'alice');
    });
    after(() => closeSetup({ gateway, scratch }));

    /** Runs `ssh -N -L local:<target>` and waits until its local port accepts connections. */
    async function forward(target: string) {
      const local = await freePort();
      const client = background('ssh', sshArgs(gateway, key, 'alice', undefined, ['-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${local}:${target}`]));
      await until(async () => (await fetchVia(local)).error !== 'ECONNREFUSED', 'the forward to listen');
      return { local, client };
    }

    it('-L to localhost reaches the berth’s web server', async () => {
      for (const host of ['localhost', '127.0.0.1', 'alice']) {
        const { local, client } = await forward(`${host}:${berthPort}`);
        try {
          assert.deepEqual(await fetchVia(local), { body: 'hello from alice' }, `via ${host}`);
        } finally {
          await client.stop();
        }
      }
    });

    it('-L lands on the socket the berth bound, never on another listener of the same port on another loopback address', async () => {
      for (const [berthAddress, otherAddress] of [
        ['127.0.0.2', '127.0.0.1'],
        ['127.0.0.1', '127.0.0.2'],
        ['127.0.0.3', '127.0.0.1'],
      ] as const) {
        // Stands for the gateway's own listener (or anyone else's) on the same port: it must never see a connection.
        let touched = false;
        const other = createServer((socket) => {
          touched = true;
          socket.end('HTTP/1.0 200 OK\r\n\r\nthe other listener');
        }).listen(0, otherAddress);
        await once(other, 'listening');
        const port = (other.address() as AddressInfo).port;
        const exec = await gateway.parts.spawner.exec('alice', { command: addressEcho(berthAddress, port), env: {}, tty: null });
        try {
          await until(async () => (await gateway.parts.spawner.listening('alice')).some((l) => l.port === port), `the berth to listen on ${berthAddress}:${port}`);
          const refusals = logged(gateway, 'forward_unreachable').length;
          const { local, client } = await forward(`localhost:${port}`);
          try {
            if (berthAddress === '127.0.0.1' || runtime.otherLoopbackReached) {
              assert.deepEqual(await fetchVia(local), { body: `berth on ${berthAddress}` }, `berth on ${berthAddress}, other on ${otherAddress}`);
            } else {
              // In a pod nothing reaches 127.0.0.2: the forward is refused, with the reason, and lands nowhere else.
              assert.equal((await fetchVia(local)).body, undefined, `berth on ${berthAddress}`);
              await until(() => logged(gateway, 'forward_unreachable').length > refusals, 'the refusal to be logged');
              assert.match(String(logged(gateway, 'forward_unreachable').at(-1)?.detail), new RegExp(`listens only on ${berthAddress.replaceAll('.', '\\.')}`));
            }
          } finally {
            await client.stop();
          }
        } finally {
          exec.signal('KILL');
          await exec.exited;
          other.close();
        }
        assert.equal(touched, false, `the forward reached the listener on ${otherAddress}:${port}`);
      }
    });

    it("-L to a port only a listener outside the berth has is refused, and that listener never sees a connection", async () => {
      let touched = false;
      const other = createServer((socket) => {
        touched = true;
        socket.destroy();
      }).listen(0, '127.0.0.1');
      await once(other, 'listening');
      const port = (other.address() as AddressInfo).port;
      try {
        const before = logged(gateway, 'forward_unreachable').length;
        const { local, client } = await forward(`localhost:${port}`);
        try {
          assert.equal((await fetchVia(local)).body, undefined);
          await until(() => logged(gateway, 'forward_unreachable').length > before, 'the refusal to be logged');
        } finally {
          await client.stop();
        }
      } finally {
        other.close();
      }
      assert.equal(touched, false, 'the forward reached a listener outside the berth');
    });

    it('-L to another host is refused before any connection is made', async () => {
      // A listener on another loopback address stands in for "another host": it must never see a connection.
      let touched = false;
      const bystander = createServer((socket) => {
        touched = true;
        socket.destroy();
      }).listen(0, '127.0.0.2');
      await new Promise((resolve) => bystander.once('listening', resolve));
      const bystanderPort = (bystander.address() as AddressInfo).port;
      try {
        for (const target of [`127.0.0.2:${bystanderPort}`, '10.0.0.1:80', `bob:${berthPort}`]) {
          const before = logged(gateway, 'forward_destination').length;
          const { local, client } = await forward(target);
          try {
            const result = await fetchVia(local);
            assert.equal(result.body, undefined, `${target} must not answer`);
            await until(() => logged(gateway, 'forward_destination').length > before, `the refusal of ${target} to be logged`);
          } finally {
            await client.stop();
          }
        }
        assert.equal(touched, false, 'the gateway connected to a host it should have refused');
      } finally {
        bystander.close();
      }
    });

    it('-L to a port outside ssh.forwarding.allowedPorts is refused', async () => {
      gateway.config.ssh.forwarding.allowedPorts = [berthPort];
      try {
        const other = await freePort();
        const { local, client } = await forward(`localhost:${other}`);
        try {
          assert.equal((await fetchVia(local)).body, undefined);
          await until(() => logged(gateway, 'forward_port').length > 0, 'the refusal to be logged');
        } finally {
          await client.stop();
        }
        const allowed = await forward(`localhost:${berthPort}`);
        try {
          assert.deepEqual(await fetchVia(allowed.local), { body: 'hello from alice' });
        } finally {
          await allowed.client.stop();
        }
      } finally {
        gateway.config.ssh.forwarding.allowedPorts = null;
      }
    });

    it('-D (dynamic forwarding, as VS Code Remote-SSH uses) reaches the berth', async () => {
      const socks = await freePort();
      const client = background('ssh', sshArgs(gateway, key, 'alice', undefined, ['-N', '-D', `127.0.0.1:${socks}`]));
      try {
        await until(async () => (await fetchVia(socks)).error !== 'ECONNREFUSED', 'the SOCKS port to listen');
        assert.match(await getThroughSocks(socks, 'localhost', berthPort), /\r\n\r\nhello from alice$/);
      } finally {
        await client.stop();
      }
    });

    it('-R (remote forwarding) is refused by default', async () => {
      const result = await run('ssh', sshArgs(gateway, key, 'alice', 'true', ['-o', 'ExitOnForwardFailure=yes', '-R', '0:localhost:80']));
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /remote port forwarding failed/i);
      assert.ok(logged(gateway, 'remote_forward_disabled').length > 0);
    });
  });
});
