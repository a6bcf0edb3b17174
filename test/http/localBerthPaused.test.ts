import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { eventually, httpRequest } from '../helpers/http.js';
import { inProcessGateway } from '../helpers/inProcessGateway.js';
import { ECHO_BERTH } from '../helpers/serve.js';

/*
 * idle.pauseAfterSeconds on the local runtime, through the whole gateway: the
 * culler pauses the idle berth (SIGSTOP to its process groups), the API says
 * paused, a background request leaves it so, and the next request resumes
 * the same process (its pid unchanged) before it is served.
 */

// Unique, so the processes found by it are this test's berth's alone.
const user = `paused-${randomBytes(4).toString('hex')}`;
const asUser = { 'X-Forwarded-Preferred-Username': user };

/** The state letter (R, S, T…) of every host process whose environment says it is `user`'s berth (bwrap and what runs in its sandbox too). */
function berthProcessStates(): string[] {
  const states: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`BERTH_USER=${user}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      states.push(stat.charAt(stat.lastIndexOf(')') + 2));
    } catch {
      // ended meanwhile
    }
  }
  return states;
}

describe('paused local berths', () => {
  it('pauses an idle local berth, stopping every process of it, and resumes the same process on the next request', async () => {
    const gw = await inProcessGateway({
      BERTH_AUTH_MODE: 'header',
      BERTH_ENVIRONMENT_COMMAND: ECHO_BERTH,
      BERTH_IDLE_PAUSE_AFTER_SECONDS: '1',
      BERTH_IDLE_CHECK_EVERY_SECONDS: '1',
    });
    try {
      const pidOf = async (headers: Record<string, string> = {}) => {
        const reply = await httpRequest(`${gw.base}/who`, { headers: { ...asUser, ...headers } });
        assert.equal(reply.status, 200, reply.body);
        return (JSON.parse(reply.body) as { pid: number }).pid;
      };
      const state = async () => (JSON.parse((await httpRequest(`${gw.base}/_berth/api/me`, { headers: asUser })).body) as { berth: { state: string } }).berth.state;
      const first = await pidOf();
      await eventually(async () => ((await state()) === 'paused' ? true : undefined), 15_000, 'the culler to pause the idle berth');
      const frozen = berthProcessStates();
      assert.ok(frozen.length > 0, 'the berth has processes');
      assert.deepEqual([...new Set(frozen)], ['T'], 'every process of the berth is stopped');

      const background = await httpRequest(`${gw.base}/poll`, { headers: { ...asUser, 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
      assert.equal(background.status, 503, 'a background request does not resume it');
      assert.equal(await state(), 'paused');

      assert.equal(await pidOf(), first, 'the same process, resumed');
      assert.equal(await state(), 'ready');
      assert.ok(!berthProcessStates().includes('T'), 'none of its processes is stopped any more');
    } finally {
      await gw.close();
    }
  });
});
