import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { background, clientOptions, closeSetup, gatewayForAlice, logged, makeKey, run, sshArgs, until, type ClientKey, type Gateway, type Scratch } from './harness.js';

/**
 * Guards the failure where the gateway refused without saying why: a
 * refused -L, -D or -W showed only "open failed: connect failed", the
 * disconnect after too many failed attempts had no description, and agent
 * and X11 forwarding requests vanished without a log line. Real OpenSSH
 * clients print the reasons the gateway now sends.
 */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sends `data` to a local port and collects what comes back until the peer closes; null when nothing listens. */
function exchange(port: number, data: Buffer): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('connect', () => socket.write(data));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve(null) : undefined));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

describe('refusals carry a reason (ssh)', () => {
  let gateway: Gateway;
  let scratch: Scratch;
  let key: ClientKey;

  before(async () => {
    ({ gateway, scratch, key } = await gatewayForAlice((config) => {
      config.ssh.forwarding.allowedPorts = [8080, 8081];
    }));
    await gateway.parts.spawner.ready('alice', 'ssh');
  });
  after(() => closeSetup({ gateway, scratch }));

  /** ssh prints channel failures at its default LogLevel, INFO; the harness's ERROR would hide them. */
  const INFO = ['-o', 'LogLevel=INFO'];
  /** `ssh -W target`: one direct-tcpip channel, as -L opens per connection; ssh prints the failure and exits 255. */
  const stdioForward = (target: string) => run('ssh', sshArgs(gateway, key, 'alice', undefined, [...INFO, '-W', target]), { input: '' });

  const prohibited: Array<[string, RegExp, string]> = [
    ['10.0.0.1:8080', /open failed: administratively prohibited: berth: forwarding reaches only your own environment \(localhost, 127\.0\.0\.1, ::1 or alice\), not 10\.0\.0\.1\./, 'forward_destination'],
    ['bob:8080', /administratively prohibited: berth: forwarding reaches only your own environment .*, not bob\./, 'forward_destination'],
    ['[::ffff:127.0.0.1]:8080', /administratively prohibited: berth: forwarding reaches only your own environment .*, not ::ffff:127\.0\.0\.1\./, 'forward_destination'],
    ['localhost:22', /administratively prohibited: berth: forwarding to port 22 is not allowed; the ports allowed are 8080, 8081\./, 'forward_port'],
  ];
  for (const [target, shown, code] of prohibited) {
    it(`-W ${target} is refused as administratively prohibited, with the reason`, async () => {
      const before = logged(gateway, code).length;
      const result = await stdioForward(target);
      assert.equal(result.code, 255);
      assert.match(result.stderr, shown);
      assert.equal(logged(gateway, code).length, before + 1);
    });
  }

  it('-W to a port nothing listens on fails as connect failed, saying what to do, never naming internal addresses', async () => {
    const result = await stdioForward('localhost:8081');
    assert.equal(result.code, 255);
    assert.match(result.stderr, /open failed: connect failed: berth: Nothing in your environment listens on port 8081; start a server on it/);
    assert.doesNotMatch(result.stderr, /ECONNREFUSED|127\.0\.0\.1:\d/);
  });

  it('-L and -D tell the client why each refused connection was refused', async () => {
    const local = await freePort();
    const socks = await freePort();
    const client = background('ssh', sshArgs(gateway, key, 'alice', undefined, [...INFO, '-N', '-L', `${local}:192.0.2.7:8080`, '-D', String(socks)]));
    try {
      await until(async () => (await exchange(local, Buffer.from('GET / HTTP/1.0\r\n\r\n'))) !== null, 'the -L port to listen');
      await until(() => client.output().stderr.includes('not 192.0.2.7.'), 'ssh to print the -L refusal');
      // SOCKS5 (RFC 1928): no authentication, then CONNECT to a host by name; ssh answers only once the gateway has.
      const name = Buffer.from('example.invalid');
      const socksRequest = Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 3, name.length]), name, Buffer.from([8080 >> 8, 8080 & 255])]);
      const answer = await until(async () => (await exchange(socks, socksRequest)) !== null, 'the -D port to listen').then(() => exchange(socks, socksRequest));
      assert.deepEqual(answer, Buffer.from([5, 0]), 'ssh took the SOCKS greeting, then closed without a connect reply');
      await until(() => client.output().stderr.includes('not example.invalid.'), 'ssh to print the -D refusal');
      assert.match(client.output().stderr, /open failed: administratively prohibited: berth: forwarding reaches only your own environment .*, not example\.invalid\./);
    } finally {
      await client.stop();
    }
  });

  it('the disconnect after too many failed attempts says why and what to do', async () => {
    const strangers = Array.from({ length: 7 }, (_, i) => makeKey(scratch.dir, `stranger${i}`));
    const identities = strangers.flatMap((k) => ['-i', k.path]);
    const result = await run('ssh', [
      ...INFO,
      ...clientOptions(null),
      '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', ...identities,
      '-p', String(gateway.port), 'alice@127.0.0.1', 'true',
    ]);
    assert.equal(result.code, 255);
    assert.match(result.stderr, /Received disconnect from 127\.0\.0\.1 port \d+:14: Too many authentication failures \(6\); offer only the key registered for your berth/);
  });

  it('an address refused for its many failures is told so, and to wait, at its next attempt', async () => {
    // From an address of its own, so the rest of this file's logins are not blocked.
    const from = ['-o', 'BindAddress=127.0.0.5'];
    // Six different keys: ssh offers a key once however often it is named.
    const spray = Array.from({ length: 6 }, (_, i) => ['-i', makeKey(scratch.dir, `sprayer${i}`).path]).flat();
    for (let i = 0; i < 5; i++) {
      const failed = await run('ssh', [...from, ...clientOptions(null), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', ...spray, '-p', String(gateway.port), 'alice@127.0.0.1', 'true']);
      assert.equal(failed.code, 255);
    }
    const result = await run('ssh', sshArgs(gateway, key, 'alice', 'true', [...INFO, ...from]));
    assert.equal(result.code, 255, 'the right key is refused too while the address is blocked');
    assert.match(result.stderr, /Received disconnect from 127\.0\.0\.1 port \d+:14: Too many failed authentication attempts from your address; wait a minute and retry/);
  });

  it('agent forwarding is refused and logged at info: no agent socket reaches the berth', async () => {
    const agent = spawnSync('ssh-agent', ['-a', join(scratch.dir, 'agent.sock'), '-s'], { encoding: 'utf8' });
    assert.equal(agent.status, 0, agent.stderr);
    const pid = /SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1];
    try {
      // ssh forwards only an agent it may use (the harness's IdentityAgent=none would stop it); this one holds no keys.
      const socket = join(scratch.dir, 'agent.sock');
      const result = await run('ssh', sshArgs(gateway, key, 'alice', 'echo "agent=${SSH_AUTH_SOCK:-none}"', ['-v', '-A', '-o', `IdentityAgent=${socket}`]), {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'agent=none\n');
      assert.match(result.stderr, /Requesting authentication agent forwarding/, 'ssh asked for it');
      await until(() => logged(gateway, 'agent_forwarding_refused').length > 0, 'the refusal to be logged');
      assert.equal(logged(gateway, 'agent_forwarding_refused')[0]?.level, 30, 'at info');
    } finally {
      if (pid) process.kill(Number(pid));
    }
  });

  it('X11 forwarding is refused (ssh says so) and logged at info', async () => {
    const result = await run('ssh', sshArgs(gateway, key, 'alice', 'echo "display=${DISPLAY:-none}"', [...INFO, '-Y', '-o', 'XAuthLocation=/nonexistent']), {
      env: { ...process.env, DISPLAY: ':97' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'display=none\n');
    assert.match(result.stderr, /X11 forwarding request failed on channel 0/);
    assert.equal(logged(gateway, 'x11_forwarding_refused')[0]?.level, 30, 'at info');
  });
});
