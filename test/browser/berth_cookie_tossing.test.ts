import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { dashboardApi, personSignedIn, seenBy, serveApps, startBerthListening, visitorAndSharer, type AppsServe } from './appsServe.js';

/*
 * Cookie tossing between app hosts (issue 25) and a berth setting the
 * gateway's cookies (issue 13, item 2), with Chromium against `berth serve`.
 * Every app host is a sibling under one domain and the gateway shares its
 * parent: a berth's Domain= cookie would reach every other user's apps and
 * the gateway, so the gateway makes it host-only; a berth's Set-Cookie for a
 * gateway cookie name never reaches the browser at all.
 */

/** The fixture's GET /cookies, which answers with these Set-Cookie lines. */
const setting = (lines: string[]) => `/cookies?${lines.map((line) => `set=${encodeURIComponent(line)}`).join('&')}`;
const cookieHeaders = (seen: Array<{ url: string; headers: Record<string, string> }>, path: string) =>
  seen.filter((s) => s.url === path).map((s) => s.headers.cookie ?? '');

describe('berth cookie tossing (Chromium, berth serve)', () => {
  let apps: AppsServe;
  let alice: Page;
  let bob: Page;
  let alicePort: number;
  let bobPort: number;

  before(async () => {
    apps = await serveApps();
    ({ visitor: alice, sharer: bob, visitorPort: alicePort, sharerPort: bobPort } = await visitorAndSharer(apps, 'alice', 'bob'));
  });
  after(() => apps?.close());

  it("keeps alice's Domain= cookie on her app host: bob's public app does not receive it, hers does, every other attribute kept", async () => {
    const aliceApp = apps.appUrl('alice', alicePort);
    const reply = await alice.goto(`${aliceApp}${setting(['tossed=alice-planted; Domain=apps.example.com; Path=/; HttpOnly; SameSite=Lax; Max-Age=600', 'second=2;domain=.EXAMPLE.com;path=/'])}`);
    assert.equal(reply?.status(), 200);
    const headers = await reply?.headersArray();
    assert.deepEqual(
      headers?.filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value),
      ['tossed=alice-planted; Path=/; HttpOnly; SameSite=Lax; Max-Age=600', 'second=2;path=/'],
      'two Set-Cookie headers stay two, each without Domain',
    );
    const stored = (await alice.context().cookies()).filter((c) => c.name === 'tossed' || c.name === 'second');
    assert.deepEqual(
      stored.map((c) => [c.name, c.domain, c.httpOnly]),
      [
        ['tossed', `alice-${alicePort}.apps.example.com`, true],
        ['second', `alice-${alicePort}.apps.example.com`, false],
      ],
      'host-only cookies of her app host',
    );

    await alice.goto(`${apps.appUrl('bob', bobPort)}/visit`);
    await alice.goto(`${aliceApp}/again`);
    await alice.goto(`${apps.gatewayUrl}/main-route`);

    const atBob = cookieHeaders(await seenBy(bob, apps), '/visit');
    assert.equal(atBob.length, 1, "alice's visit reached bob's app");
    assert.doesNotMatch(atBob[0] as string, /tossed|second/, "alice's cookie reached bob's app");
    const atAlice = await seenBy(alice, apps);
    assert.match(cookieHeaders(atAlice, '/again')[0] as string, /tossed=alice-planted/, 'her own app gets it back');
    assert.doesNotMatch(cookieHeaders(atAlice, '/main-route')[0] as string, /tossed|second/, 'nor does it reach the gateway');
  });

  it("drops a berth's Set-Cookie for a gateway cookie, on the main route and on app hosts, and logs it once per berth at warn", async () => {
    const forged = ['berth_session=forged; Path=/', 'berth_app=forged; Domain=example.com; Path=/', '=berth_session=nameless', 'kept=1; Path=/'];
    for (const url of [`${apps.gatewayUrl}${setting(forged)}`, `${apps.appUrl('alice', alicePort)}${setting(forged)}`]) {
      const reply = await alice.goto(url);
      assert.equal(reply?.status(), 200);
      const lines = (await reply?.headersArray())?.filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value);
      assert.deepEqual(lines, ['kept=1; Path=/'], url);
    }
    const names = (await alice.context().cookies()).map((c) => `${c.name}@${c.domain}:${c.value === 'forged' || c.value.includes('nameless') ? 'forged' : 'own'}`);
    assert.equal(names.filter((n) => n.endsWith(':forged')).length, 0, names.join(', '));
    assert.equal(await dashboardApi(alice, apps, 'GET', '/_berth/api/me'), 200, 'alice is still signed in with her own session');
    const warned = apps.served.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith("a berth's response tried to set one of the gateway's cookies, or clear them all"));
    assert.deepEqual(
      warned.map((l) => [l.level, l.user, l.cookie]),
      [[40, 'alice', 'berth_session']],
      'once per berth, naming the cookie, never its value',
    );
    assert.doesNotMatch(JSON.stringify(warned), /forged|nameless/);
  });
});

describe('apps.allowDomainCookies: true (Chromium, berth serve)', () => {
  let apps: AppsServe;

  before(async () => {
    apps = await serveApps({ BERTH_APPS_ALLOW_DOMAIN_COOKIES: 'true' });
  });
  after(() => apps?.close());

  it("lets alice's apps share a Domain= cookie across her ports, as the operator chose", async () => {
    const [first, second] = [await freeLoopbackPort(), await freeLoopbackPort()];
    const alice = await personSignedIn(apps, 'alice');
    await startBerthListening(alice, apps, first);
    await startBerthListening(alice, apps, second);
    const reply = await alice.goto(`${apps.appUrl('alice', first)}${setting(['shared=1; Domain=apps.example.com; Path=/'])}`);
    assert.equal(reply?.status(), 200);
    await alice.goto(`${apps.appUrl('alice', second)}/other-port`);
    assert.match(cookieHeaders(await seenBy(alice, apps), '/other-port')[0] ?? '', /shared=1/);
  });
});
