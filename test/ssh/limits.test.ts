import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config/schema.js';
import { background, closeSetup, gatewayForAlice, run, sshArgs, until, type AliceSetup, type Gateway } from './harness.js';
import { forEachRuntime, type SshRuntime } from './runtimes.js';

/** A gateway with alice's key registered, under the given limits. */
function withGateway(adjust: (config: Config) => void, runtime?: SshRuntime) {
  const state = {} as AliceSetup;
  before(async () => {
    Object.assign(state, await gatewayForAlice(adjust, runtime));
  });
  after(() => closeSetup(state));
  return state;
}

const sessionsOpen = async (gateway: Gateway) => (await gateway.parts.metrics.sshSessions.get()).values[0]?.value ?? 0;

await forEachRuntime((runtime) => {
  describe(`an open ssh session and its berth (${runtime.kind})`, () => {
    const state = withGateway(() => undefined, runtime);

    it('holds the berth active while open, so the idle culler leaves it', async () => {
      const { gateway, key } = state;
      const session = background('ssh', sshArgs(gateway, key, 'alice', 'echo started; sleep 30'));
      try {
        await until(() => session.output().stdout.includes('started'), 'the session to start');
        const farFuture = Date.now() + 10 * 24 * 3600 * 1000;
        assert.deepEqual(gateway.parts.spawner.idleSince(farFuture), [], 'a held berth counts as active');
        assert.equal(await sessionsOpen(gateway), 1);
      } finally {
        await session.stop();
      }
      await until(async () => (await sessionsOpen(gateway)) === 0, 'the session to be released');
      assert.deepEqual(gateway.parts.spawner.idleSince(Date.now() + 10 * 24 * 3600 * 1000), ['alice']);
    });

    it('ends the session with a message when the berth is stopped', async () => {
      const { gateway, key } = state;
      const session = background('ssh', sshArgs(gateway, key, 'alice', 'echo started; sleep 30'));
      await until(() => session.output().stdout.includes('started'), 'the session to start');
      await gateway.parts.spawner.stop('alice', 'stopped by an administrator');
      const ended = await session.ended;
      assert.equal(ended.signal, null, 'ssh ended by itself');
      assert.notEqual(ended.code, 0);
      assert.match(ended.stderr, /berth: your environment stopped \(stopped by an administrator\); connect again to start it\./);
    });
  });
});

describe('ssh.idleTimeoutSeconds', () => {
  const state = withGateway((config) => {
    config.ssh.idleTimeoutSeconds = 1;
  });

  it('closes a connection with no traffic, saying why', async () => {
    const began = Date.now();
    const result = await run('ssh', sshArgs(state.gateway, state.key, 'alice', 'sleep 20'));
    assert.notEqual(result.code, 0);
    assert.ok(Date.now() - began < 10_000);
    assert.match(result.stderr, /berth: closing this connection after 1 s without activity\./);
  });

  it('leaves a connection with traffic open', async () => {
    const result = await run('ssh', sshArgs(state.gateway, state.key, 'alice', 'for i in 1 2 3 4 5; do echo $i; sleep 0.4; done'));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '1\n2\n3\n4\n5\n');
  });
});

describe('ssh.maxSessionSeconds and ssh.maxSessionsPerUser', () => {
  const state = withGateway((config) => {
    config.ssh.maxSessionSeconds = 3;
    config.ssh.maxSessionsPerUser = 1;
  });

  it('refuses a session beyond the per-user limit with a clear message', async () => {
    const { gateway, key } = state;
    const first = background('ssh', sshArgs(gateway, key, 'alice', 'echo started; sleep 30'));
    try {
      await until(() => first.output().stdout.includes('started'), 'the first session to start');
      const second = await run('ssh', sshArgs(gateway, key, 'alice', 'echo second'));
      assert.equal(second.code, 255);
      assert.equal(second.stdout, '');
      assert.match(second.stderr, /berth: you already have 1 SSH sessions open, the most allowed; close one and retry\./);
      // The first one runs into the maximum length meanwhile.
      const ended = await first.ended;
      assert.match(ended.stderr, /berth: closing this connection: it reached the maximum length of 3 s\./);
    } finally {
      await first.stop();
    }
    const after = await run('ssh', sshArgs(gateway, key, 'alice', 'echo again'));
    assert.equal(after.stdout, 'again\n', 'a closed session frees its place');
  });
});
