import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { AppsGateway } from '../apps/harness.js';
import { launchBrowser, newPage, WAIT_MS } from '../browser/harness.js';
import { DEBIAN, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { startFakeApiServer } from '../kubernetes/fakeApiServer/index.js';
import { CLI } from '../helpers/serve.js';
import { background, clientOptions, makeKey, scratchDir, until, type ClientKey, type Scratch } from '../ssh/harness.js';

/*
 * Issue 14's acceptance, with real clients: in a Docker berth and in a pod
 * of the fake Kubernetes API server (the Debian test image, nothing added),
 * servers bound only to 127.0.0.1, as dev servers are, are reached through
 * every way in: the main route, `ssh -L`, `ssh -D` with curl
 * --socks5-hostname, the app host in Chromium, `berth forward`, and a
 * WebSocket app through its app host. In the pod every one of them goes
 * through the API's port-forward (reach portForward, a gateway outside the
 * cluster).
 */

const run = promisify(execFile);
const PAGE = 'hello from the loopback of alice';

/** A WebSocket echo on 127.0.0.1:8082 from python3's standard library, with a page at / that talks to it. */
const WS_APP = String.raw`
import base64, hashlib, socket, threading
PAGE = b'<!doctype html><title>ws</title><p id=out>waiting</p><script>const ws = new WebSocket("ws://" + location.host + "/ws"); ws.onopen = () => ws.send("ping"); ws.onmessage = (e) => { document.getElementById("out").textContent = "echo: " + e.data; };</script>'
def handle(c):
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = c.recv(4096)
        if not chunk: return
        data += chunk
    lines = data.split(b'\r\n\r\n')[0].decode().split('\r\n')[1:]
    headers = {l.split(':', 1)[0].strip().lower(): l.split(':', 1)[1].strip() for l in lines if ':' in l}
    if headers.get('upgrade', '').lower() != 'websocket':
        c.sendall(b'HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: %d\r\nconnection: close\r\n\r\n' % len(PAGE) + PAGE)
        c.close()
        return
    accept = base64.b64encode(hashlib.sha1((headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
    c.sendall(('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n').encode())
    while True:
        head = c.recv(2)
        if len(head) < 2 or head[0] & 15 == 8: return
        mask = c.recv(4)
        payload = bytearray(c.recv(head[1] & 127))
        for i in range(len(payload)): payload[i] ^= mask[i % 4]
        reply = b'echo from the loopback: ' + bytes(payload)
        c.sendall(bytes([0x81, len(reply)]) + reply)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 8082))
s.listen()
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
`;

const BERTH = [
  'sh',
  '-c',
  [
    'mkdir -p /tmp/site /tmp/main',
    'echo "hello from the loopback of $BERTH_USER" > /tmp/site/index.html',
    'echo "main port on the loopback of $BERTH_USER" > /tmp/main/index.html',
    '(cd /tmp/site && exec python3 -m http.server 8081 --bind 127.0.0.1 >/dev/null 2>&1) &',
    'python3 -c "$WS_APP" &',
    'cd /tmp/main && exec python3 -m http.server "$PORT" --bind 127.0.0.1',
  ].join('\n'),
];

/** Where the berths run: the gateway's runtime settings, and what is left to remove after. */
interface Target {
  kind: 'docker' | 'kubernetes';
  start(): Promise<{ overrides: Record<string, string>; cleanup(): Promise<void> }>;
}

const docker: Target = {
  kind: 'docker',
  async start() {
    const prefix = runPrefix();
    const network = `${prefix}-net`;
    return {
      overrides: { BERTH_RUNTIME_KIND: 'docker', BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix, BERTH_RUNTIME_DOCKER_NETWORK: network, BERTH_RUNTIME_DOCKER_REACH: 'network' },
      cleanup: () => removeByPrefix(prefix, [network]),
    };
  },
};

/** Pods of the fake API server (Docker containers), reached as from outside the cluster. */
const kubernetes: Target = {
  kind: 'kubernetes',
  async start() {
    const prefix = runPrefix();
    const dir = await mkdtemp(join(tmpdir(), 'berth-loopback-kube-'));
    const fake = await startFakeApiServer({ engine, prefix, dir, namespaces: [prefix] });
    return {
      overrides: { BERTH_RUNTIME_KIND: 'kubernetes', BERTH_RUNTIME_KUBERNETES_KUBECONFIG: fake.kubeconfig, BERTH_RUNTIME_KUBERNETES_NAMESPACE: prefix, BERTH_RUNTIME_KUBERNETES_REACH: 'portForward' },
      async cleanup() {
        await fake.close();
        await removeByPrefix(prefix, [`${prefix}-podnet`]);
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

for (const target of [docker, kubernetes]) {
  await withEngine(`loopback listeners in ${target.kind} berths, with real clients`, () => {
    describe(`a ${target.kind} berth's loopback-only servers, through every way in`, () => {
      let gw: AppsGateway;
      let sshPort: number;
      let scratch: Scratch;
      let key: ClientKey;
      let cleanup: () => Promise<void> = async () => undefined;

      before(async () => {
        sshPort = await freeLoopbackPort();
        const started = await target.start();
        cleanup = started.cleanup;
        gw = await AppsGateway.start(
          {
            ...started.overrides,
            BERTH_ENVIRONMENT_IMAGE: DEBIAN,
            BERTH_ENVIRONMENT_COMMAND: JSON.stringify(BERTH),
            BERTH_ENVIRONMENT_ENV: JSON.stringify({ WS_APP }),
            BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`,
          },
          ['alice-8081.apps.test', 'alice-8082.apps.test'],
        );
        await gw.login('alice');
        scratch = scratchDir();
        key = makeKey(scratch.dir, 'alice');
        const added = await gw.api('alice', 'POST', '/_berth/api/me/keys', { key: key.publicKey });
        assert.equal(added.status, 201, added.body);
      });
      after(async () => {
        await gw?.close();
        scratch?.remove();
        await cleanup();
      });

      /** GET / through a local port with curl: the body, or '' when nothing answered. */
      async function curlBody(args: string[]): Promise<string> {
        const { stdout } = await run('curl', ['-sS', '--max-time', '10', ...args]).catch(() => ({ stdout: '' }));
        return stdout;
      }

      it('serves the main port, bound to 127.0.0.1 in the berth, on the main route', async () => {
        const reply = await gw.main('alice', '/');
        assert.equal(reply.status, 200, reply.body);
        assert.equal(reply.body, 'main port on the loopback of alice\n');
      });

      it('lists the loopback-only servers as such, reachable', async () => {
        const ports = new Map((await gw.ports('alice')).map((p) => [p.port, p]));
        for (const port of [8080, 8081, 8082]) {
          assert.equal(ports.get(port)?.listening, true, `port ${port} listed`);
          assert.equal(ports.get(port)?.loopbackOnly, true, `port ${port} loopback-only`);
          assert.equal(ports.get(port)?.unreachable, undefined, `port ${port} reachable`);
        }
      });

      const ssh = (options: string[]) => background('ssh', [...options, ...clientOptions(key), '-p', String(sshPort), 'alice@127.0.0.1']);

      it('ssh -L 9000:localhost:8081 fetches the page', async () => {
        const local = await freeLoopbackPort();
        const client = ssh(['-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${local}:localhost:8081`]);
        try {
          let body = '';
          await until(async () => (body = await curlBody([`http://127.0.0.1:${local}/`])) !== '', 'the forward to answer', 20_000);
          assert.equal(body, `${PAGE}\n`);
        } finally {
          await client.stop();
        }
      });

      it('ssh -D with curl --socks5-hostname fetches the page', async () => {
        const socks = await freeLoopbackPort();
        const client = ssh(['-N', '-D', `127.0.0.1:${socks}`]);
        try {
          let body = '';
          await until(async () => (body = await curlBody(['--socks5-hostname', `127.0.0.1:${socks}`, 'http://localhost:8081/'])) !== '', 'the SOCKS forward to answer', 20_000);
          assert.equal(body, `${PAGE}\n`);
        } finally {
          await client.stop();
        }
      });

      it('berth forward fetches the page', async () => {
        const { token } = await gw.newToken('alice', ['apps']);
        const local = await freeLoopbackPort();
        const forward = spawn(process.execPath, [...CLI, 'forward', '--gateway', `http://127.0.0.1:${gw.port}`, '--token', token, String(local), '8081'], { stdio: 'ignore' });
        try {
          let body = '';
          await until(async () => (body = await curlBody([`http://127.0.0.1:${local}/`])) !== '', 'the forward to answer', 20_000);
          assert.equal(body, `${PAGE}\n`);
        } finally {
          forward.kill('SIGKILL');
        }
      });

      describe('in Chromium', () => {
        let browser: Browser;
        before(async () => {
          browser = await launchBrowser();
        });
        after(() => browser?.close());

        it('opens the app host alice-8081 on the page, and a WebSocket app bound to 127.0.0.1 works through alice-8082', { timeout: 4 * WAIT_MS }, async () => {
          const { context, page } = await newPage(browser);
          try {
            // Signed in on the gateway first: the dev form's CSP (form-action 'self') would stop the redirects on to an app host.
            await page.goto(`${gw.url}/_berth/login?next=%2F_berth%2F`);
            await page.locator('#username').fill('alice');
            await page.getByRole('button', { name: 'Sign in' }).click();
            await page.waitForURL(`${gw.url}/_berth/`);
            await page.goto(`${gw.app('alice', 8081)}/`);
            await page.waitForURL(`${gw.app('alice', 8081)}/`);
            assert.equal((await page.textContent('body'))?.trim(), PAGE);
            await page.goto(`${gw.app('alice', 8082)}/`);
            await page.locator('#out', { hasText: 'echo: echo from the loopback: ping' }).waitFor();
          } finally {
            await context.close();
          }
        });
      });
    });
  });
}
