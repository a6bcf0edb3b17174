import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { WAIT_MS } from './harness.js';
import { seenBy, serveApps, signInOnOwnAppHost, visitorAndSharer, type AppsServe } from './appsServe.js';

/*
 * Request forgery between users from a sibling app host. Mallory shares a
 * port of her berth publicly; alice, signed in on the gateway and on her own
 * app host, visits it. Mallory's page is same-site with alice's hosts, so a
 * form it submits or a no-cors fetch it makes carries alice's Lax cookies:
 * such a POST to alice's berth (main route or app host) must be refused
 * before it reaches the berth, while alice's own pages post to it freely.
 */
describe('cross-user request forgery (Chromium, berth serve)', () => {
  let apps: AppsServe;
  let alice: Page;
  let alicePort: number;
  let malloryPort: number;

  before(async () => {
    apps = await serveApps();
    ({ visitor: alice, visitorPort: alicePort, sharerPort: malloryPort } = await visitorAndSharer(apps, 'alice', 'mallory'));
    await signInOnOwnAppHost(alice, apps, 'alice', alicePort);
  });
  after(() => apps?.close());

  const postsSeen = async (path: string) => (await seenBy(alice, apps)).filter((s) => s.url === path);

  /** Submits a form from the page's current document, as any page may, and waits for the navigation it causes. */
  const submitForm = (page: Page, action: string) =>
    Promise.all([
      page.waitForNavigation({ timeout: WAIT_MS }),
      page.evaluate((target) => {
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = target;
        const field = document.createElement('input');
        field.name = 'do';
        field.value = 'it';
        form.append(field);
        document.body.append(form);
        form.submit();
      }, action),
    ]);

  /** A fetch that needs no CORS consent (the response is opaque, the request still goes). */
  const noCorsPost = (page: Page, url: string) =>
    page.evaluate((target) => fetch(target, { method: 'POST', mode: 'no-cors', credentials: 'include', body: 'do=it' }).then(() => undefined), url);

  it("lets alice's own pages post to her berth: the gateway's origin, the app host itself, and another of her app hosts", async () => {
    await alice.goto(`${apps.gatewayUrl}/page`);
    await submitForm(alice, `${apps.gatewayUrl}/own-main-form`);
    assert.match((await alice.content()) ?? '', /"body":"do=it"/);
    await alice.goto(`${apps.appUrl('alice', alicePort)}/page`);
    await submitForm(alice, `${apps.appUrl('alice', alicePort)}/own-app-form`);
    assert.match((await alice.content()) ?? '', /"x-berth-visitor":"alice"/);
    await noCorsPost(alice, `${apps.gatewayUrl}/own-from-app-host`);
    for (const path of ['/own-main-form', '/own-app-form', '/own-from-app-host']) assert.equal((await postsSeen(path)).length, 1, path);
  });

  it("refuses the form and the fetch that mallory's page sends with alice's cookies, to the main route and to her app host", async () => {
    const targets = [`${apps.gatewayUrl}/forged-main`, `${apps.appUrl('alice', alicePort)}/forged-app`];
    for (const target of targets) {
      await alice.goto(`${apps.appUrl('mallory', malloryPort)}/lure`);
      const [answer] = await submitForm(alice, `${target}-form`);
      assert.equal(answer?.status(), 403, `${target}-form was let through`);
      await alice.goto(`${apps.appUrl('mallory', malloryPort)}/lure`);
      await noCorsPost(alice, `${target}-fetch`);
    }
    for (const path of ['/forged-main-form', '/forged-main-fetch', '/forged-app-form', '/forged-app-fetch']) {
      assert.deepEqual(await postsSeen(path), [], `${path} reached alice's berth`);
    }
    const refusals = apps.served.lines.filter((line) => line.msg === 'request refused' && line.code === 'csrf');
    assert.equal(refusals.length, 4, JSON.stringify(refusals));
    for (const line of refusals) {
      assert.equal(line.level, 40, 'logged at warn, not error');
      assert.match(String(line.detail), new RegExp(`cross-user POST refused: Origin "http://mallory-${malloryPort}\\.apps\\.example\\.com:\\d+"`));
    }
  });
});
