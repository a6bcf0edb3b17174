import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readIdentity } from '../../src/auth/header/readIdentity.js';
import { identityFromClaims } from '../../src/auth/oidc/claims.js';
import { headerUtf8 } from '../../src/core/headerText.js';
import { parseUsername, safeName } from '../../src/core/safeName.js';
import { rawExchange } from '../helpers/http.js';
import { berthServe, ECHO_BERTH, stopServe, type Served } from '../helpers/serve.js';
import { authorize, closeSetup, makeKey, run, scratchDir, sshArgs, startGateway, type Gateway, type Scratch } from '../ssh/harness.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { CLIENT_ID, CLIENT_SECRET, signInUntilCallback, startTestProvider, step } from '../helpers/oidcProvider.js';
import { captureLogger, fakeRequest, startGateway as startAuthGateway, testConfig } from './helpers.js';

const COMPOSED = '\u00e5lice'; // "ålice" with one code point for å
const DECOMPOSED = 'a\u030alice'; // the same name: "a" and a combining ring
/** What the HTTP parser hands over for these bytes: one Latin-1 character per byte. */
const wire = (bytes: Buffer | string): string => (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes).toString('latin1');

describe('utf8 usernames: decoding header bytes', () => {
  const valid: Array<[string, string]> = [
    ['ASCII', 'alice'],
    ['two-byte', COMPOSED],
    ['three-byte', '山田'],
    ['four-byte (outside the BMP)', 'ali\u{1F600}'],
    ['the largest code point', '\u{10FFFF}x'],
  ];
  for (const [what, text] of valid) {
    it(`decodes ${what} UTF-8`, () => assert.equal(headerUtf8(wire(text)), text));
  }

  const invalid: Array<[string, number[]]> = [
    ['a Latin-1 byte on its own (å as 0xE5)', [0xe5, 0x6c, 0x69, 0x63, 0x65]],
    ['an overlong "/" (C0 AF)', [0xc0, 0xaf]],
    ['an overlong three-byte form (E0 80 AF)', [0xe0, 0x80, 0xaf]],
    ['a surrogate half (ED A0 80)', [0x61, 0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
    ['a stray continuation byte', [0x61, 0x80]],
    ['a truncated sequence', [0x61, 0xe2, 0x82]],
    ['0xFF', [0xff]],
  ];
  for (const [what, bytes] of invalid) {
    it(`refuses ${what}`, () => assert.equal(headerUtf8(wire(Buffer.from(bytes))), null));
  }

  it('refuses text that cannot have come from the wire (a character above 0xFF)', () => assert.equal(headerUtf8('ali\u0107e'), null));
});

describe('utf8 usernames: one form of a name', () => {
  it('makes composed and decomposed names one name, with one safe name', () => {
    const a = parseUsername(COMPOSED);
    const b = parseUsername(DECOMPOSED);
    assert.deepEqual(a, { name: COMPOSED });
    assert.deepEqual(b, { name: COMPOSED });
    assert.equal(safeName(COMPOSED), safeName((b as { name: string }).name));
  });

  it('normalises to NFC, not NFKC: a ligature, full-width letters and a Kelvin sign of another form stay apart', () => {
    assert.deepEqual(parseUsername('\ufb01sh'), { name: '\ufb01sh' }); // "ﬁsh" is not "fish"
    assert.notEqual(safeName('\ufb01sh'), safeName('fish'));
    assert.deepEqual(parseUsername('\uff41lice'), { name: '\uff41lice' }); // full-width a
    // K (U+212A, the Kelvin sign) is canonically K: NFC folds it, as it must.
    assert.deepEqual(parseUsername('\u212a'), { name: 'K' });
  });

  for (const [what, name] of [
    ['a lone high surrogate', 'ali\ud800ce'],
    ['a lone low surrogate', '\udc00alice'],
    ['the replacement character of a lossy decoder', 'ali\ufffdce'],
  ] as const) {
    it(`refuses ${what}`, () => assert.match(String((parseUsername(name) as { problem?: string }).problem), /not valid UTF-8/));
  }

  it('holds for random names: the header bytes of any usable name, composed or not, read back as its NFC form (property)', () => {
    // A small deterministic generator (xorshift) over letters, marks and scripts that normalise differently.
    let seed = 0x9e3779b9;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const pools = [[0x61, 0x7a], [0xc0, 0x17f], [0x300, 0x36f], [0x1100, 0x11ff], [0xac00, 0xd7a3], [0x4e00, 0x4fff], [0xfb00, 0xfb06], [0x1f600, 0x1f64f]];
    for (let i = 0; i < 2000; i++) {
      let name = '';
      const length = 1 + Math.floor(next() * 12);
      for (let c = 0; c < length; c++) {
        const [lo, hi] = pools[Math.floor(next() * pools.length)] as [number, number];
        name += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
      }
      const parsed = parseUsername(name);
      if ('problem' in parsed) continue;
      for (const form of [name, name.normalize('NFD'), name.normalize('NFC')]) {
        const read = readIdentity(fakeRequest({ headers: [['X-Forwarded-Preferred-Username', wire(form)]] }), ['x-forwarded-preferred-username']);
        assert.deepEqual(read, { kind: 'value', value: parsed.name, header: 'x-forwarded-preferred-username' }, JSON.stringify(form));
      }
    }
  });

  it('agrees across two headers when one sends the name composed and the other decomposed', () => {
    const read = readIdentity(fakeRequest({ headers: [['Remote-User', wire(COMPOSED)], ['X-Forwarded-User', wire(DECOMPOSED)]] }), ['remote-user', 'x-forwarded-user']);
    assert.deepEqual(read, { kind: 'value', value: COMPOSED, header: 'remote-user' });
  });

  it('gives an OpenID claim the same NFC form as the header', () => {
    const config = testConfig();
    const result = identityFromClaims({ preferred_username: DECOMPOSED }, config.auth.oidc);
    assert.equal('identity' in result && result.identity.name, COMPOSED);
  });
});

describe('utf8 usernames from a real OpenID provider', () => {
  it('signs in a decomposed preferred_username as the NFC name the header gives', async () => {
    const port = await freeLoopbackPort();
    const gatewayUrl = `http://127.0.0.1:${port}`;
    const provider = await startTestProvider({ gatewayUrl, claims: () => ({ preferred_username: DECOMPOSED }) });
    after(() => provider.close());
    const oidc = { issuer: provider.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
    const { url } = await startAuthGateway({ auth: { mode: 'oidc', oidc } }, captureLogger().logger, port);
    const { callbackUrl, jar } = await signInUntilCallback(url, 'aring');
    assert.equal((await step(jar, callbackUrl)).status, 303);
    const me = (await (await step(jar, `${url}/x`)).json()) as { user: { name: string } };
    assert.equal(me.user.name, COMPOSED);
    assert.equal(safeName(me.user.name), safeName(COMPOSED));
  });
});

describe('utf8 usernames through a real gateway', () => {
  let gw: Served;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-utf8-'));
    gw = await berthServe([], { BERTH_DATA_DIR: dataDir, BERTH_LISTEN_SSH: 'null', BERTH_AUTH_MODE: 'header', BERTH_ENVIRONMENT_COMMAND: ECHO_BERTH });
  });
  after(async () => {
    await stopServe(gw, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const ask = (nameBytes: Buffer) =>
    rawExchange(gw.base, Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-Forwarded-Preferred-Username: '), nameBytes, Buffer.from('\r\n\r\n')]), 30_000);

  it('sends a composed and a decomposed name to one berth, which is told the NFC name', async () => {
    const first = await ask(Buffer.from(COMPOSED));
    const second = await ask(Buffer.from(DECOMPOSED));
    assert.equal(first.status, 200, first.text);
    assert.equal(second.status, 200, second.text);
    const body = (reply: { text: string }) => JSON.parse(reply.text.slice(reply.text.indexOf('\r\n\r\n') + 4)) as { user: string; pid: number };
    assert.equal(body(first).user, COMPOSED);
    assert.equal(body(second).user, COMPOSED);
    assert.equal(body(first).pid, body(second).pid, 'one berth');
  });

  for (const [what, bytes] of [
    ['Latin-1 bytes', Buffer.from([0xe5, 0x6c, 0x69, 0x63, 0x65])],
    ['an overlong form', Buffer.from([0x61, 0xc0, 0xaf])],
    ['a surrogate half', Buffer.from([0x61, 0xed, 0xa0, 0x80])],
  ] as const) {
    it(`answers 400 saying the name is not UTF-8 to ${what}`, async () => {
      const reply = await ask(bytes);
      assert.equal(reply.status, 400, reply.text);
      assert.match(reply.text, /not UTF-8/);
    });
  }
});

describe('utf8 usernames over SSH', () => {
  let gateway: Gateway;
  let scratch: Scratch;
  before(async () => {
    gateway = await startGateway();
    scratch = scratchDir();
  });
  after(() => closeSetup({ gateway, scratch }));

  it('lets the same user in composed or decomposed, into the berth of the NFC name', async () => {
    const key = makeKey(scratch.dir, 'aring');
    await authorize(gateway, COMPOSED, key);
    for (const login of [COMPOSED, DECOMPOSED]) {
      const result = await run('ssh', sshArgs(gateway, key, login, 'printf %s "$BERTH_USER"'));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, COMPOSED);
    }
  });
});
