import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import WebSocket from 'ws';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { CAP_MARKER } from '../../src/terminal/asciicast.js';
import { RECORDED_NOTICE } from '../../src/terminal/recordings.js';
import { DEBIAN, DOCKER, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { kubeHarness, type KubeHarness } from '../kubernetes/harness.js';
import { clientOptions, makeKey, run, scratchDir, until, type ClientKey, type Scratch } from '../ssh/harness.js';
import { gatewayWithProvider, launchBrowser, newPage, screenshot, signIn, WAIT_MS, type BrowserGateway } from './harness.js';

/*
 * The web terminal and session recording, end to end: Chromium on
 * /_berth/terminal through a loopback relay the test can cut (a dropped
 * connection, as a train going into a tunnel), OpenSSH's ssh -tt in tmux
 * for a real terminal with a size, and the admin page's asciinema-player.
 * The same behaviours on the local runtime, on berths as Docker containers
 * from the Debian test image (vim-tiny for the alternate screen), and on the
 * kubernetes runtime (its exec) against the fake API server.
 */

/** A TCP relay in front of the gateway whose connections the test can all cut at once. */
async function cuttableRelay(port: number, target: () => number): Promise<{ server: Server; cut(): number; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target(), '127.0.0.1');
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      open.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        open.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    cut() {
      const n = open.size;
      for (const socket of open) socket.destroy();
      return n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What the terminal shows, row by row, as xterm.js's DOM renderer draws it. */
const screenText = (page: Page) => page.locator('#terminal .xterm-rows').innerText();

async function typeLine(page: Page, text: string): Promise<void> {
  await page.locator('#terminal').click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

async function waitForScreen(page: Page, pattern: RegExp, what: string): Promise<string> {
  let last = '';
  await until(async () => pattern.test((last = await screenText(page))), what, WAIT_MS).catch(async (err: Error) => {
    throw new Error(`${err.message}; the status says ${await page.locator('#term-status').innerText()} and the screen shows:\n${last}`);
  });
  return last;
}

function tmux(socket: string, ...args: string[]) {
  return run('tmux', ['-L', socket, '-f', '/dev/null', ...args], { timeoutMs: 10_000 });
}

type Runtime = { kind: 'local' | 'docker' | 'kubernetes'; setUp?: () => Promise<void>; env: () => Record<string, string>; cleanUp: () => Promise<void> };

/** The fake API server (test/kubernetes/), whose pods are Docker containers: the kubernetes runtime's exec is what the terminal goes through. */
let kube: KubeHarness | null = null;

const DOCKER_PREFIX = runPrefix();
const RUNTIMES: Runtime[] = [
  { kind: 'local', env: () => ({}), cleanUp: async () => undefined },
  {
    kind: 'docker',
    env: () => ({
      BERTH_RUNTIME_KIND: 'docker',
      BERTH_RUNTIME_DOCKER_SOCKET: DOCKER.socket,
      BERTH_RUNTIME_DOCKER_NAME_PREFIX: DOCKER_PREFIX,
      BERTH_RUNTIME_DOCKER_NETWORK: `${DOCKER_PREFIX}-net`,
      BERTH_RUNTIME_DOCKER_REACH: 'network',
      BERTH_ENVIRONMENT_IMAGE: DEBIAN,
      BERTH_ENVIRONMENT_COMMAND: JSON.stringify(['sh', '-c', 'exec python3 -m http.server "$PORT" -d /tmp']),
    }),
    cleanUp: () => removeByPrefix(DOCKER_PREFIX, [`${DOCKER_PREFIX}-net`], DOCKER),
  },
  {
    kind: 'kubernetes',
    setUp: async () => {
      kube = await kubeHarness();
    },
    env: () => ({
      BERTH_RUNTIME_KIND: 'kubernetes',
      BERTH_RUNTIME_KUBERNETES_KUBECONFIG: kube?.fake.kubeconfig ?? '',
      BERTH_RUNTIME_KUBERNETES_NAMESPACE: kube?.namespace ?? '',
      BERTH_RUNTIME_KUBERNETES_REACH: 'podIP',
      BERTH_ENVIRONMENT_IMAGE: DEBIAN,
      BERTH_ENVIRONMENT_COMMAND: JSON.stringify(['sh', '-c', 'exec python3 -m http.server "$PORT" -d /tmp']),
    }),
    cleanUp: async () => kube?.cleanup(),
  },
];

/** Past this a recording ends with the marker; the sessions below that are not about the cap stay well under it. */
const MAX_BYTES = 200_000;

function suite(runtime: Runtime): void {
  describe(`web terminal and recordings (Chromium, ssh -tt, ${runtime.kind} runtime)`, () => {
    let browser: Browser;
    let gw: BrowserGateway;
    let relay: Awaited<ReturnType<typeof cuttableRelay>>;
    let alice: { context: BrowserContext; page: Page };
    let scratch: Scratch;
    let key: ClientKey;
    let sshPort: string;
    const tmuxSocket = `b17t-${process.pid}-${runtime.kind}`;
    /** Every ticket the test handled, to look for in the audit log afterwards. */
    const tickets: string[] = [];
    const auditFile = () => join(scratch.dir, 'audit.jsonl');

    before(async () => {
      await runtime.setUp?.();
      scratch = scratchDir();
      const publicPort = await freeLoopbackPort();
      let gatewayPort = 0;
      relay = await cuttableRelay(publicPort, () => gatewayPort);
      gw = await gatewayWithProvider({
        publicPort,
        env: {
          BERTH_RECORDING_ENABLED: 'true',
          BERTH_AUDIT_FILE: auditFile(),
          BERTH_RECORDING_MAX_BYTES: String(MAX_BYTES),
          BERTH_TERMINAL_ADMIN_ACCESS: 'true',
          BERTH_AUTH_OIDC_ADMIN_GROUPS: '[berth-admins]',
          ...runtime.env(),
        },
        claims: (login) => ({ preferred_username: login, groups: login === 'root' ? ['berth-admins'] : ['staff'] }),
      });
      gatewayPort = Number(gw.config.listen.http.split(':')[1]);
      sshPort = gw.config.listen.ssh?.split(':')[1] ?? '';
      browser = await launchBrowser();
      alice = await newPage(browser);
      alice.context.on('response', (res) => {
        if (res.url().endsWith('/_berth/api/me/terminal/tickets') && res.status() === 201) void res.json().then((body: { ticket: string }) => tickets.push(body.ticket), () => undefined);
      });
      await signIn(alice.page, gw.base, 'alice');
      key = makeKey(scratch.dir, 'alice');
      await alice.page.getByLabel('Add a public key').fill(key.publicKey);
      await alice.page.getByRole('button', { name: 'Add key' }).click();
      await alice.page.locator('#key-list li', { hasText: 'alice@test' }).waitFor();
    });
    after(async () => {
      await tmux(tmuxSocket, 'kill-server');
      await browser?.close();
      await gw?.close();
      await relay?.close();
      await runtime.cleanUp();
      scratch?.remove();
    });

    it('opens the terminal from the dashboard at the window size, shows colours, and tput cols follows a resize', async () => {
      const { page } = alice;
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      await page.goto(`${gw.base}/_berth/`);
      const [terminal] = await Promise.all([alice.context.waitForEvent('page'), page.getByRole('link', { name: 'Terminal' }).click()]);
      await terminal.locator('#term-status', { hasText: 'connected' }).waitFor();
      assert.equal(new URL(terminal.url()).pathname, '/_berth/terminal');
      await terminal.close();

      await page.goto(`${gw.base}/_berth/terminal`);
      await page.locator('#term-status', { hasText: 'connected' }).waitFor();
      await page.locator('#term-notices', { hasText: 'Terminal sessions on this gateway are recorded.' }).waitFor();
      const url = new URL(sockets.at(-1) ?? '');
      assert.equal(url.pathname, '/_berth/api/me/terminal');
      assert.equal(url.search.includes('ticket'), false, 'the ticket travels as a subprotocol, not in the URL');
      const cols = Number(url.searchParams.get('cols'));
      assert.ok(cols > 80, `a 1280 px window is wider than 80 columns (${cols})`);

      await typeLine(page, `echo "first=$(tput cols)x$(tput lines)"`);
      await waitForScreen(page, new RegExp(`first=${cols}x${url.searchParams.get('rows')}`), 'the shell to start at the size in the request');
      await typeLine(page, `printf '\\033[31m%s\\033[0m \\033[1;32m%s\\033[0m\\n' colour-red colour-green`);
      await waitForScreen(page, /colour-red colour-green/, 'the printf');
      const rows = page.locator('#terminal .xterm-rows');
      assert.match((await rows.getByText('colour-red', { exact: true }).getAttribute('class')) ?? '', /xterm-fg-1\b/, 'red (SGR 31) reaches the screen as colour 1');
      assert.match((await rows.getByText('colour-green', { exact: true }).getAttribute('class')) ?? '', /xterm-bold/);

      await page.setViewportSize({ width: 700, height: 500 });
      await until(async () => {
        await typeLine(page, `echo "now=$(tput cols)"`);
        const shown = [...(await screenText(page)).matchAll(/now=(\d+)/g)].map((m) => Number(m[1]));
        const last = shown.at(-1) ?? cols;
        return last < cols && last > 20;
      }, 'tput cols to follow the narrower window', WAIT_MS);
      await screenshot(page, `terminal-${runtime.kind}`);
    });

    it('restores the screen, vi on the alternate screen included, after the connection drops, and shows reconnecting', async () => {
      const { page } = alice;
      await page.setViewportSize({ width: 1000, height: 600 });
      await typeLine(page, `echo before-vi-marker`);
      await waitForScreen(page, /before-vi-marker/, 'the echo');
      await typeLine(page, 'vi /tmp/b17t-note.txt');
      await waitForScreen(page, /^~/m, "vi's empty-line tildes");
      await page.keyboard.type('iwritten-in-vi-before-the-drop');
      await page.keyboard.press('Escape');
      await waitForScreen(page, /written-in-vi-before-the-drop/, 'the text typed in vi');

      await page.evaluate(() => {
        const status = document.getElementById('term-status') as HTMLElement;
        const seen: string[] = [];
        (window as unknown as { seenStatus: string[] }).seenStatus = seen;
        new MutationObserver(() => seen.push(status.textContent ?? '')).observe(status, { childList: true, characterData: true, subtree: true });
      });
      assert.ok(relay.cut() > 0, 'the relay held the terminal connection');
      await page.locator('#term-status', { hasText: 'reconnecting…' }).waitFor();
      await page.locator('#term-status', { hasText: 'connected' }).waitFor();
      const seen = await page.evaluate(() => (window as unknown as { seenStatus: string[] }).seenStatus);
      assert.ok(seen.includes('reconnecting…'), JSON.stringify(seen));

      const restored = await waitForScreen(page, /written-in-vi-before-the-drop/, 'the vi screen to come back');
      assert.doesNotMatch(restored, /before-vi-marker/, 'the alternate screen is shown, not the shell behind it');
      assert.match(restored, /^~/m);
      await page.keyboard.type('A and-after-it');
      await waitForScreen(page, /written-in-vi-before-the-drop and-after-it/, 'the same vi to take keys after the reconnect');
      await page.keyboard.press('Escape');
      await page.keyboard.type(':q!');
      await page.keyboard.press('Enter');
      await waitForScreen(page, /before-vi-marker/, 'the shell screen to come back when vi leaves the alternate screen');
    });

    it('lets two tabs share one terminal', async () => {
      const second = await alice.context.newPage();
      await second.goto(`${gw.base}/_berth/terminal`);
      await second.locator('#term-status', { hasText: 'connected' }).waitFor();
      await typeLine(second, 'echo typed-in-the-second-tab');
      await waitForScreen(alice.page, /typed-in-the-second-tab/, 'the first tab to show what the second typed');
      await second.close();
    });

    it('refuses a foreign Origin, a handshake without a ticket and a reused ticket with 403', async () => {
      const cookies = (await alice.context.cookies(gw.base)).map((c) => `${c.name}=${c.value}`).join('; ');
      const ticket = async () =>
        alice.page.evaluate(() =>
          (window as unknown as { Berth: { request(m: string, p: string, b: unknown): Promise<{ data: { ticket: string } }> } }).Berth.request(
            'POST',
            '/_berth/api/me/terminal/tickets',
            {},
          ),
        );
      const wsUrl = `${gw.base.replace('http', 'ws')}/_berth/api/me/terminal?cols=80&rows=24`;
      const handshake = (origin: string, protocols: string[]) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(wsUrl, protocols, { headers: { cookie: cookies, origin } });
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('open', () => {
            ws.close();
            resolve(101);
          });
          ws.on('error', () => resolve(-1));
        });
      const fresh = (await ticket()).data.ticket;
      tickets.push(fresh);
      assert.equal(await handshake('http://evil.example', ['berth.terminal', `berth.ticket.${fresh}`]), 403, 'a foreign Origin');
      assert.equal(await handshake(gw.base, ['berth.terminal']), 403, 'no ticket');
      assert.equal(await handshake(gw.base, ['berth.terminal', `berth.ticket.${fresh}`]), 101, 'the ticket, first use (the foreign Origin was refused before it was looked at)');
      assert.equal(await handshake(gw.base, ['berth.terminal', `berth.ticket.${fresh}`]), 403, 'the same ticket again');
      const noCsrf = await alice.page.evaluate((base) => fetch(`${base}/_berth/api/me/terminal/tickets`, { method: 'POST', body: '{}' }).then((r) => r.status), gw.base);
      assert.equal(noCsrf, 403, 'a ticket is fetched only with the CSRF token');
    });

    it("lets an admin into alice's terminal, and tells alice", async () => {
      const root = await newPage(browser);
      await signIn(root.page, gw.base, 'root', '/_berth/admin');
      await root.page.goto(`${gw.base}/_berth/terminal?user=alice`);
      await root.page.locator('#term-status', { hasText: 'connected' }).waitFor();
      await alice.page.locator('#term-notices', { hasText: 'root (an administrator) opened this terminal.' }).waitFor();
      await root.context.close();
      const bob = await newPage(browser);
      await signIn(bob.page, gw.base, 'bob', '/_berth/admin');
      const refused = await bob.page.goto(`${gw.base}/_berth/terminal?user=alice`);
      assert.equal(refused?.status(), 403);
      await bob.context.close();
    });

    it('records ssh -tt with its resize and the web terminal, and the admin page plays both', async () => {
      const { page } = alice;
      await typeLine(page, 'echo web-terminal-recorded-line');
      await waitForScreen(page, /web-terminal-recorded-line/, 'the echo');
      await page.getByRole('button', { name: 'Close terminal' }).click();
      await page.locator('#term-status', { hasText: 'ended' }).waitFor();

      const ssh = ['ssh', ...clientOptions(key), '-tt', '-p', sshPort, 'alice@127.0.0.1'].map((a) => `'${a}'`).join(' ');
      const started = await tmux(tmuxSocket, 'new-session', '-d', '-s', 'ssh', '-x', '100', '-y', '30', `${ssh}; sleep 30`);
      assert.equal(started.code, 0, started.stderr);
      const pane = async () => (await tmux(tmuxSocket, 'capture-pane', '-p', '-t', 'ssh')).stdout;
      const type = (text: string) => tmux(tmuxSocket, 'send-keys', '-t', 'ssh', text, 'Enter');
      // The session's notice, not the sign-in banner (which says sessions are recorded before there is one).
      await until(async () => (await pane()).includes(RECORDED_NOTICE), 'the ssh session to say it is recorded', WAIT_MS);
      await type('echo ssh-recorded-line');
      await tmux(tmuxSocket, 'resize-window', '-t', 'ssh', '-x', '120', '-y', '40');
      // stty, not tput: tmux's TERM may have no terminfo entry in the berth. Asked again until the resize
      // has gone through the runtime (docker's exec resize is a call of its own).
      await until(async () => {
        await type('echo "size=$(stty size)"');
        return /size=40 120/.test(await pane());
      }, 'the pty to follow the tmux resize', WAIT_MS).catch(async (err: Error) => {
        throw new Error(`${err.message}; the pane shows:\n${await pane()}`);
      });
      await type('exit');
      // The pane runs the sleep once ssh has ended.
      await until(async () => (await tmux(tmuxSocket, 'list-panes', '-t', 'ssh', '-F', '#{pane_current_command}')).stdout.trim() === 'sleep', 'ssh to end', WAIT_MS);

      const root = await newPage(browser);
      await signIn(root.page, gw.base, 'root', '/_berth/admin');
      const listing = await root.page.evaluate((base) => fetch(`${base}/_berth/api/recordings?user=alice`).then((r) => r.json()), gw.base);
      const recordings = (listing as { recordings: Array<{ id: string; kind: string; user: string; bytes: number }> }).recordings;
      const sshRecording = recordings.find((r) => r.kind === 'ssh');
      const webRecording = recordings.find((r) => r.kind === 'terminal');
      assert.ok(sshRecording && webRecording, JSON.stringify(recordings));
      const cast = async (id: string) => {
        const res = await root.page.request.get(`${gw.base}/_berth/api/recordings/${id}`);
        assert.equal(res.headers()['content-type'], 'application/x-asciicast');
        return (await res.text()).trimEnd().split('\n').map((line) => JSON.parse(line) as unknown);
      };
      const [sshHeader, ...sshEvents] = (await cast(sshRecording.id)) as [Record<string, unknown>, ...Array<[number, string, string]>];
      assert.equal(sshHeader.version, 2);
      assert.equal(sshHeader.width, 100);
      assert.equal((sshHeader.berth as Record<string, unknown>).user, 'alice');
      assert.ok(sshEvents.some(([, type, data]) => type === 'r' && data === '120x40'), 'the resize is in the ssh recording');
      assert.ok(sshEvents.some(([, type, data]) => type === 'o' && data.includes('ssh-recorded-line')));
      assert.ok(!sshEvents.some(([, type]) => type === 'i'), 'no keystrokes without recording.input');
      const webEvents = (await cast(webRecording.id)).slice(1) as Array<[number, string, string]>;
      assert.ok(webEvents.some(([, type, data]) => type === 'o' && data.includes('web-terminal-recorded-line')));
      assert.ok(webEvents.some(([, type]) => type === 'r'), 'the window resize is in the web terminal recording');

      await root.page.goto(`${gw.base}/_berth/admin`);
      for (const [recording, text] of [
        [sshRecording, 'ssh-recorded-line'],
        [webRecording, 'web-terminal-recorded-line'],
      ] as const) {
        await root.page.locator(`#recording-list li[data-id="${recording.id}"] button`).click();
        // The player replays the whole session (gaps cut to idleTimeLimit, 2 s): the web terminal's spans every test above, longer on a loaded machine.
        await root.page.locator('#recording-player .ap-term', { hasText: text }).waitFor({ timeout: 3 * WAIT_MS });
        await root.page.locator('#recording-player').scrollIntoViewIfNeeded();
        await screenshot(root.page, `recording-${recording.kind}-${runtime.kind}`);
      }
      await root.context.close();
    });

    it('keeps a session going past recording.maxBytes and ends its recording with the marker', async () => {
      const { page } = alice;
      const before = new Set(readdirSync(join(gw.config.dataDir, 'recordings')));
      await page.goto(`${gw.base}/_berth/terminal`);
      await page.locator('#term-status', { hasText: 'connected' }).waitFor();
      await typeLine(page, `head -c ${MAX_BYTES * 2} /dev/zero | tr '\\0' x; echo; echo noise-done`);
      await waitForScreen(page, /^noise-done/m, 'the noisy command to finish');
      await typeLine(page, 'echo still-here-after-the-cap');
      await waitForScreen(page, /^still-here-after-the-cap/m, 'the session to go on past the cap');
      const added = readdirSync(join(gw.config.dataDir, 'recordings')).filter((name) => !before.has(name));
      assert.equal(added.length, 1, JSON.stringify(added));
      const text = readFileSync(join(gw.config.dataDir, 'recordings', added[0] as string), 'utf8');
      const lines = text.trimEnd().split('\n');
      const last = JSON.parse(lines.at(-1) as string) as [number, string, string];
      assert.deepEqual(last.slice(1), ['m', CAP_MARKER]);
      assert.ok(text.length <= MAX_BYTES + 1024, 'the file stays within the cap (plus its marker)');
      assert.equal(text.includes('still-here-after-the-cap'), false, 'nothing is recorded after the marker');
      await page.getByRole('button', { name: 'Close terminal' }).click();
      await page.locator('#term-status', { hasText: 'ended' }).waitFor();
    });

    it('audits the terminals opened and closed and the capped recording, with no ticket in the audit log', async () => {
      type Event = { kind: string; actor: string | null; target: string | null; outcome: string; detail: Record<string, unknown> };
      let events: Event[] = [];
      await until(() => {
        events = readFileSync(auditFile(), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Event);
        return events.some((e) => e.kind === 'recording.capped');
      }, 'the cap in the audit log');
      const opened = events.filter((e) => e.kind === 'terminal.opened' && e.target === 'alice');
      assert.ok(opened.some((e) => e.actor === 'alice' && e.detail.admin === false && e.detail.recorded === true), JSON.stringify(opened));
      assert.ok(opened.some((e) => e.actor === 'root' && e.detail.admin === true), 'the admin opening alice\'s terminal');
      assert.ok(events.some((e) => e.kind === 'terminal.closed' && e.target === 'alice' && 'exitStatus' in e.detail), 'the terminal closed, with its exit');
      assert.ok(
        events.some((e) => e.kind === 'origin.refused' && e.detail.path === '/_berth/api/me/terminal' && /evil\.example/.test(String(e.detail.evidence))),
        'the foreign Origin on the terminal socket',
      );
      const capped = events.find((e) => e.kind === 'recording.capped');
      assert.equal(capped?.actor, 'alice');
      assert.equal(capped?.detail.type, 'terminal');
      const text = readFileSync(auditFile(), 'utf8');
      assert.ok(tickets.length > 0);
      for (const ticket of tickets) assert.equal(text.includes(ticket), false, 'a terminal ticket in the audit log');
    });
  });
}

for (const runtime of RUNTIMES) {
  if (runtime.kind !== 'local') await withEngine(`web terminal on ${runtime.kind} berths`, () => suite(runtime), DOCKER);
  else suite(runtime);
}
