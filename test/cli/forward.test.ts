import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parseForwardArgs, tunnelUrl } from '../../src/cli/forward.js';
import { CLI } from '../helpers/serve.js';

describe('berth forward arguments', () => {
  const env = { BERTH_TOKEN: 'berth_fromenv' };

  it('reads LOCALPORT and [USER/]PORT, with the gateway and token from flags or the environment', () => {
    assert.deepEqual(parseForwardArgs(['5432', '5432'], env), { gateway: 'http://127.0.0.1:8000', token: 'berth_fromenv', localPort: 5432, user: null, port: 5432 });
    assert.deepEqual(parseForwardArgs(['--gateway', 'https://gw.example.test', '--token=berth_x', '8080', 'alice/3000'], {}), {
      gateway: 'https://gw.example.test',
      token: 'berth_x',
      localPort: 8080,
      user: 'alice',
      port: 3000,
    });
    assert.equal(parseForwardArgs(['1', 'first.last@example.test/22'], env).user, 'first.last@example.test');
  });

  const refused: Array<[string[], RegExp]> = [
    [['5432'], /local port and a berth port/],
    [['0', '80'], /LOCALPORT must be a port/],
    [['80', '65536'], /PORT must be a port/],
    [['80', 'alice/'], /PORT must be a port/],
    [['--token'], /--token needs a value/],
    [['-x', '1', '2'], /Unknown option -x/],
    [['--gateway', 'ftp://x', '1', '2'], /--gateway must be/],
  ];
  for (const [args, message] of refused) {
    it(`refuses ${JSON.stringify(args)}`, () => assert.throws(() => parseForwardArgs(args, env), (err: { userMessage: string }) => message.test(err.userMessage)));
  }

  it('asks for a token when none is given', () => {
    assert.throws(() => parseForwardArgs(['1', '2'], {}), (err: { userMessage: string }) => /--token or \$BERTH_TOKEN/.test(err.userMessage));
  });

  it('tunnels through the WebSocket path of the gateway, naming another user in the query', () => {
    assert.equal(tunnelUrl(parseForwardArgs(['1', '22'], env)), 'ws://127.0.0.1:8000/_berth/api/me/tunnel/22');
    assert.equal(tunnelUrl(parseForwardArgs(['--gateway', 'https://gw.test/base', '1', 'a b/22'], env)), 'wss://gw.test/_berth/api/me/tunnel/22?user=a+b');
  });

  it('is in --help, and a usage error exits 1 with the reason', () => {
    const help = spawnSync(process.execPath, [...CLI, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.match(help.stdout, /berth forward \[--gateway URL\] \[--token T\] LOCALPORT \[USER\/\]PORT/);
    const bad = spawnSync(process.execPath, [...CLI, 'forward', '1'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, BERTH_TOKEN: '' } });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Name a local port and a berth port/);
  });
});
