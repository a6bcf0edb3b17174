import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpRequest, rawExchange } from '../helpers/http.js';
import { berthServe, CLI, ECHO_BERTH, stopServe, type Served } from '../helpers/serve.js';


const stops: Array<() => Promise<void>> = [];
after(() => Promise.all(stops.map((stop) => stop())));

async function headerGateway(env: Record<string, string> = {}): Promise<Served> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-idhdr-'));
  const served = await berthServe([], {
    BERTH_DATA_DIR: dataDir,
    BERTH_LISTEN_SSH: 'null',
    BERTH_AUTH_MODE: 'header',
    BERTH_ENVIRONMENT_COMMAND: ECHO_BERTH,
    ...env,
  });
  stops.push(async () => {
    await stopServe(served, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  return served;
}

const head = (lines: string[]): string => `GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;

describe('identity header disagreement: the default believes one header', () => {
  let gw: Served;
  before(async () => {
    gw = await headerGateway();
  });

  it('does not believe a lower-ranked header of old that a proxy may pass on from the client', async () => {
    for (const header of ['X-Forwarded-User', 'X-Auth-Request-User', 'X-Auth-Request-Preferred-Username', 'Remote-User']) {
      const reply = await httpRequest(`${gw.base}/`, { headers: { [header]: 'mallory' } });
      assert.equal(reply.status, 401, `${header}: ${reply.body}`);
    }
  });

  it('believes X-Forwarded-Preferred-Username and strips every known identity header before the berth', async () => {
    const reply = await httpRequest(`${gw.base}/`, {
      headers: { 'x-forwarded-PREFERRED-username': 'alice', 'X-Forwarded-User': 'mallory', 'Remote-User': 'mallory', 'X-Auth-Request-Email': 'm@example.test' },
      timeoutMs: 30_000,
    });
    assert.equal(reply.status, 200, reply.body);
    const seen = JSON.parse(reply.body) as { user: string; headers: Record<string, string> };
    assert.equal(seen.user, 'alice');
    for (const name of ['x-forwarded-preferred-username', 'x-forwarded-user', 'remote-user', 'x-auth-request-email']) {
      assert.equal(seen.headers[name], undefined, name);
    }
  });

  it('refuses the believed header sent twice with two values (400, logged with its name), believes two equal copies', async () => {
    const twice = await rawExchange(gw.base, head(['X-Forwarded-Preferred-Username: mallory', 'X-Forwarded-Preferred-Username: alice']));
    assert.equal(twice.status, 400, twice.text);
    assert.match(twice.text, /x-forwarded-preferred-username disagree/);
    const logged = gw.lines.find((line) => line.msg === 'identity headers disagree; refused');
    assert.ok(logged, 'a log line for the refusal');
    assert.equal(logged.level, 40);
    assert.deepEqual(logged.headers, ['x-forwarded-preferred-username']);
    assert.equal(JSON.stringify(gw.lines).includes('mallory'), false, 'values stay out of the log');
    const same = await rawExchange(gw.base, head(['X-Forwarded-Preferred-Username: alice', 'x-forwarded-preferred-username: alice']));
    assert.equal(same.status, 200, same.text);
  });

  it('names the header it believes in the start-up log and in config check', () => {
    const line = gw.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('header sign-in believes'));
    assert.ok(line, 'a start-up line naming the header');
    assert.match(String(line.msg), /the user named in X-Forwarded-Preferred-Username, from 127\.0\.0\.0\/8, ::1\/128 only/);
    const check = spawnSync(process.execPath, [...CLI, 'config', 'check'], { encoding: 'utf8', env: { ...process.env, BERTH_AUTH_MODE: 'header' } });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /^# header sign-in believes the user named in X-Forwarded-Preferred-Username/m);
  });
});

describe('identity header disagreement: several listed headers', () => {
  let gw: Served;
  before(async () => {
    gw = await headerGateway({ BERTH_AUTH_HEADER_USER_HEADERS: '[X-Forwarded-Preferred-Username, Remote-User]' });
  });

  it('refuses two listed headers that disagree with 400 and starts no berth', async () => {
    const reply = await httpRequest(`${gw.base}/`, { headers: { 'X-Forwarded-Preferred-Username': 'carol', 'Remote-User': 'mallory' } });
    assert.equal(reply.status, 400, reply.body);
    assert.match(reply.body, /x-forwarded-preferred-username, remote-user disagree/);
    const me = await httpRequest(`${gw.base}/_berth/api/me`, { headers: { 'Remote-User': 'carol' } });
    assert.equal((JSON.parse(me.body) as { berth: { state: string } }).berth.state, 'stopped', 'no berth was started for the refused request');
  });

  it('believes either listed header alone, and both when they agree', async () => {
    for (const headers of [{ 'Remote-User': 'dora' } as Record<string, string>, { 'X-Forwarded-Preferred-Username': 'dora' }, { 'REMOTE-USER': 'dora', 'x-forwarded-preferred-username': 'dora' }]) {
      const reply = await httpRequest(`${gw.base}/_berth/api/me`, { headers });
      assert.equal(reply.status, 200, reply.body);
      assert.equal((JSON.parse(reply.body) as { user: { name: string } }).user.name, 'dora');
    }
  });

  it('says in the start-up log that disagreeing headers are refused', () => {
    const line = gw.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('header sign-in believes'));
    assert.match(String(line?.msg), /X-Forwarded-Preferred-Username, Remote-User \(a request where they disagree is refused\)/);
  });
});
