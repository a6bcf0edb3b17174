import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { pageWebSocket, seenBy, serveApps, signInOnOwnAppHost, visitorAndSharer, type AppsServe } from './appsServe.js';

/*
 * Cross-site WebSocket hijacking from a sibling app host. Mallory shares a
 * port of her berth publicly; alice, signed in on the gateway and on her own
 * app host, visits it. Mallory's page is same-site with both (one registrable
 * domain), so alice's Lax cookies ride along on every request it makes: a
 * WebSocket it opens to the gateway's main route, to alice's app host or to a
 * tunnel must be refused (403) before it reaches alice's berth, while the
 * same sockets opened from their own origins work.
 */
describe('websocket origin (Chromium, berth serve)', () => {
  let apps: AppsServe;
  let alice: Page;
  let alicePort: number;
  let malloryPort: number;
  const ws = (url: string) => url.replace(/^http/, 'ws');

  before(async () => {
    apps = await serveApps();
    ({ visitor: alice, visitorPort: alicePort, sharerPort: malloryPort } = await visitorAndSharer(apps, 'alice', 'mallory'));
    await signInOnOwnAppHost(alice, apps, 'alice', alicePort);
  });
  after(() => apps?.close());

  /** Handshakes that reached alice's berth on `path`. */
  const upgradesSeen = async (path: string) => (await seenBy(alice, apps)).filter((s) => s.upgrade === true && s.url === path);

  it("opens a WebSocket from the gateway's own origin and from alice's own app host", async () => {
    await alice.goto(`${apps.gatewayUrl}/page`);
    assert.deepEqual(await pageWebSocket(alice, `${ws(apps.gatewayUrl)}/own-main`), { opened: true, reply: '-:hello' });
    await alice.goto(`${apps.appUrl('alice', alicePort)}/page`);
    assert.deepEqual(await pageWebSocket(alice, `${ws(apps.appUrl('alice', alicePort))}/own-app`), { opened: true, reply: 'alice:hello' });
    assert.equal((await upgradesSeen('/own-main')).length, 1);
    assert.equal((await upgradesSeen('/own-app')).length, 1);
  });

  it("refuses a WebSocket that mallory's page opens with alice's cookies to the main route, alice's app host or a tunnel", async () => {
    await alice.goto(`${apps.appUrl('mallory', malloryPort)}/lure`);
    // Alice's cookies do travel from this same-site page: a plain (no-cors) GET to her app host carries her app cookie.
    await alice.evaluate((url) => fetch(url, { mode: 'no-cors', credentials: 'include' }).then(() => undefined), `${apps.appUrl('alice', alicePort)}/probe`);
    const probes = (await seenBy(alice, apps)).filter((s) => s.url === '/probe');
    assert.equal(probes[0]?.headers['x-berth-visitor'], 'alice', 'the browser treats the sibling host as same-site and sends her cookie');
    await alice.goto(`${apps.appUrl('mallory', malloryPort)}/lure`);

    const attempts = [`${ws(apps.gatewayUrl)}/hijack-main`, `${ws(apps.appUrl('alice', alicePort))}/hijack-app`, `${ws(apps.gatewayUrl)}/_berth/api/me/tunnel/${alicePort}`];
    for (const url of attempts) {
      const result = await pageWebSocket(alice, url);
      assert.equal(result.opened, false, `${url} was switched for a foreign origin`);
      assert.equal(result.reply, null);
    }
    assert.deepEqual(await upgradesSeen('/hijack-main'), [], 'no handshake reached the berth from the main route');
    assert.deepEqual(await upgradesSeen('/hijack-app'), [], 'no handshake reached the berth from the app host');

    const refusals = apps.served.lines.filter((line) => line.msg === 'request refused' && line.code === 'csrf');
    assert.equal(refusals.length, attempts.length, JSON.stringify(refusals));
    for (const line of refusals) {
      assert.equal(line.level, 40, 'logged at warn, not error');
      assert.equal(line.status, 403);
      assert.match(String(line.detail), new RegExp(`cross-origin upgrade refused: Origin "http://mallory-${malloryPort}\\.apps\\.example\\.com:\\d+"`));
    }
  });
});
