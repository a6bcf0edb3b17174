import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { TerminalHub, type TerminalClient, type TerminalControl } from '../../src/terminal/hub.js';
import { localSpawner, testConfig, type SpawnerParts } from '../helpers/gatewayParts.js';
import { until } from '../ssh/harness.js';

/**
 * A web terminal whose last tab went away: its shell waits
 * terminal.keepSeconds for a tab to come back (the same shell, the screen
 * as it was), and is hung up after that. Real local berths, real shells.
 */
describe('web terminal kept after its last tab, then hung up (local runtime)', () => {
  let parts: SpawnerParts;
  const size = { cols: 80, rows: 24 };

  before(async () => {
    parts = await localSpawner(testConfig());
    await parts.spawner.ready('alice', 'api');
  });
  after(() => parts?.close());

  function tab(): TerminalClient & { screen: () => string; controls: TerminalControl[]; ended: boolean } {
    let text = '';
    const controls: TerminalControl[] = [];
    const client = {
      controls,
      ended: false,
      screen: () => text,
      output: (data: Uint8Array) => (text += Buffer.from(data).toString('utf8')),
      control: (message: TerminalControl) => controls.push(message),
      end: () => (client.ended = true),
    };
    return client;
  }

  function openIn(hub: TerminalHub, exits: Array<{ code: number | null; signal: string | null }>) {
    return hub.open('alice', size, async () => ({
      proc: await parts.spawner.exec('alice', { command: ['/bin/sh'], env: {}, tty: { term: 'xterm', ...size } }),
      ended: (exit) => exits.push(exit),
    }));
  }

  it('gives a tab that comes back within keepSeconds the same shell and its screen', async () => {
    const exits: Array<{ code: number | null; signal: string | null }> = [];
    const hub = new TerminalHub(30, createLogger('silent'));
    const terminal = await openIn(hub, exits);
    const first = tab();
    terminal.attach(first);
    terminal.input(Buffer.from('echo "pid=$$"\n'));
    await until(() => /pid=\d+/.test(first.screen()), 'the shell to answer');
    const pid = /pid=(\d+)/.exec(first.screen())?.[1];
    terminal.detach(first);

    const again = await openIn(hub, exits);
    assert.equal(again, terminal, 'the same terminal');
    const second = tab();
    again.attach(second);
    await until(() => second.controls.some((c) => c.type === 'attached'), 'the second tab to attach');
    await until(() => second.screen().includes(`pid=${pid}`), 'the restored screen to hold the first output');
    again.input(Buffer.from('echo "again=$$"\n'));
    await until(() => second.screen().includes(`again=${pid}`), 'the same shell to answer the second tab');
    await again.close();
    await until(() => exits.length === 1, 'the shell to end on close');
    assert.ok(second.ended, 'the tab is told the terminal ended');
  });

  it('hangs the shell up once keepSeconds pass with no tab', async () => {
    const exits: Array<{ code: number | null; signal: string | null }> = [];
    const hub = new TerminalHub(1, createLogger('silent'));
    const terminal = await openIn(hub, exits);
    const only = tab();
    terminal.attach(only);
    terminal.input(Buffer.from('echo ready\n'));
    await until(() => only.screen().includes('ready'), 'the shell to answer');
    terminal.detach(only);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(exits, [], 'still kept within keepSeconds');
    await until(() => exits.length === 1, 'the shell to be hung up after keepSeconds', 8000);
    assert.equal(terminal.alive, false);
    const fresh = await openIn(hub, exits);
    assert.notEqual(fresh, terminal, 'the next open starts a new shell');
    await fresh.close();
  });
});
