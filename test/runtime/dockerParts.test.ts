import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { createOptions } from '../../src/runtime/docker/createOptions.js';
import { memoryBytes } from '../../src/runtime/spec.js';
import { engineAddress } from '../../src/runtime/docker/engine.js';
import { demultiplexer, FrameParser, logLines } from '../../src/runtime/docker/frames.js';
import { loginShellFrom } from '../../src/runtime/docker/loginShell.js';
import { namespaceUnavailable } from '../../src/runtime/docker/namespaceAccess.js';
import { observe } from '../../src/runtime/docker/observed.js';
import { berthSpecFor } from '../../src/runtime/spec.js';

/* The docker runtime's pure parts, without an engine; test/runtime/docker.test.ts runs the whole against one. */

const dockerConfig = (docker: NonNullable<ConfigInput['runtime']>['docker'] = {}) => configSchema.parse({ runtime: { docker } }).runtime.docker;

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('docker engine address', () => {
  const cases: Array<[string, string | null, NodeJS.ProcessEnv, string]> = [
    ['the default socket', null, {}, 'unix:///var/run/docker.sock'],
    ['DOCKER_HOST when no socket is configured', null, { DOCKER_HOST: 'unix:///run/podman/podman.sock' }, 'unix:///run/podman/podman.sock'],
    ['the configured socket over DOCKER_HOST', '/tmp/d.sock', { DOCKER_HOST: 'tcp://10.0.0.1:2375' }, 'unix:///tmp/d.sock'],
    ['a unix:// URL', 'unix:///var/run/other.sock', {}, 'unix:///var/run/other.sock'],
    ['tcp without TLS', 'tcp://10.0.0.1:2375', {}, 'tcp://10.0.0.1:2375'],
    ['tcp from DOCKER_HOST with DOCKER_TLS_VERIFY', null, { DOCKER_HOST: 'tcp://10.0.0.1:2376', DOCKER_TLS_VERIFY: '1' }, 'tcp://10.0.0.1:2376 (TLS)'],
  ];
  for (const [what, socket, env, description] of cases) {
    it(`reads ${what}`, () => {
      assert.equal(engineAddress(dockerConfig({ socket }), env).description, description);
    });
  }

  it('points dockerode at the socket even when DOCKER_HOST names another engine', () => {
    const { options } = engineAddress(dockerConfig({ socket: '/tmp/d.sock' }), { DOCKER_HOST: 'tcp://10.0.0.1:2375' });
    assert.equal(options.socketPath, '/tmp/d.sock');
    assert.equal(options.host, undefined);
  });

  for (const socket of ['ssh://me@host', 'tcp://no-port', 'unix://relative.sock', 'docker.sock']) {
    it(`refuses ${JSON.stringify(socket)} naming the key`, () => {
      assert.throws(() => engineAddress(dockerConfig({ socket }), {}), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'config_invalid');
        assert.match(err.message, /^runtime\.docker\.socket: expected/);
        return true;
      });
    });
  }

  it('names a TLS file it cannot read', () => {
    assert.throws(() => engineAddress(dockerConfig({ socket: 'tcp://10.0.0.1:2376', tls: { ca: '/nonexistent/ca.pem' } }), {}), /runtime\.docker\.tls\.ca: cannot read \/nonexistent\/ca\.pem/);
  });
});

describe('docker create options', () => {
  const context = { prefix: 'berth', instanceId: 'i1', network: 'berth', reach: 'network' as const, allowedMounts: ['/srv/shared', 'datasets'] };
  const spec = (environment: ConfigInput['environment'] = {}) =>
    berthSpecFor(configSchema.parse({ environment: { image: 'img', command: ['serve', '--port=${PORT}', '--user=${USER}'], ...environment } }), 'Zoë');

  it('substitutes the command and gives BERTH_USER, PORT and HOME', () => {
    const options = createOptions(spec({ env: { PORT: '1', EXTRA: 'x' } }), context);
    assert.deepEqual(options.Cmd, ['serve', '--port=8080', '--user=Zoë']);
    assert.deepEqual(options.Env, ['HOME=/home/berth', 'PORT=8080', 'EXTRA=x', 'BERTH_USER=Zoë']);
    assert.match(options.name ?? '', /^berth-zoe-x[a-z2-7]{10}$/);
  });

  it('publishes the main port on loopback only in published mode', () => {
    assert.equal(createOptions(spec(), context).HostConfig?.PortBindings, undefined);
    assert.deepEqual(createOptions(spec(), { ...context, reach: 'published' }).HostConfig?.PortBindings, {
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    });
  });

  it('gives a read-only root a writable /tmp', () => {
    const host = createOptions(spec({ readOnlyRoot: true }), context).HostConfig;
    assert.equal(host?.ReadonlyRootfs, true);
    assert.ok(host?.Tmpfs?.['/tmp']);
  });

  it('mounts what the allowlist allows, and nothing else', () => {
    const allowed = createOptions(
      spec({ mounts: [{ source: '/srv/shared/data/../team', target: '/team' }, { source: 'datasets', target: '/data', readOnly: false }] }),
      context,
    );
    assert.deepEqual(allowed.HostConfig?.Mounts?.slice(1), [
      { Type: 'bind', Source: '/srv/shared/team', Target: '/team', ReadOnly: true },
      { Type: 'volume', Source: 'datasets', Target: '/data', ReadOnly: false },
    ]);
    for (const source of ['/srv/shared/../etc', '/srv/sharedother', '/', 'other-volume']) {
      assert.throws(() => createOptions(spec({ mounts: [{ source, target: '/x' }] }), context), { code: 'config_invalid' }, source);
    }
  });

  it('says the image is missing from the configuration', () => {
    assert.throws(() => createOptions(spec({ image: null }), context), /environment\.image must be set/);
  });

  const sizes: Array<[string, number]> = [
    ['1048576', 1048576],
    ['512k', 512 * 1024],
    ['512m', 512 * 1024 ** 2],
    ['512MB', 512 * 1024 ** 2],
    ['1.5g', 1.5 * 1024 ** 3],
    ['2GiB', 2 * 1024 ** 3],
  ];
  for (const [text, bytes] of sizes) {
    it(`reads memory ${text} as ${bytes} bytes`, () => assert.equal(memoryBytes(text), bytes));
  }
});

describe('docker stream frames', () => {
  it('splits frames however the chunks fall', () => {
    const whole = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, 'out two\n')]);
    for (let size = 1; size <= whole.length; size++) {
      const parser = new FrameParser();
      const seen = { 1: '', 2: '' } as Record<number, string>;
      for (let i = 0; i < whole.length; i += size) {
        for (const piece of parser.push(whole.subarray(i, i + size))) seen[piece.stream] += piece.payload.toString();
      }
      assert.deepEqual(seen, { 1: 'out one\nout two\n', 2: 'err\n' }, `chunks of ${size}`);
    }
  });

  it('refuses a stream that is not multiplexed', () => {
    assert.throws(() => new FrameParser().push(Buffer.from('plain text, not frames')), /not a multiplexed/);
  });

  it('waits for a slow reader instead of buffering without bound', async () => {
    const stdout = new PassThrough({ highWaterMark: 16 });
    const stderr = new PassThrough();
    const sink = demultiplexer(stdout, stderr);
    let accepted = 0;
    const chunk = frame(1, 'x'.repeat(64));
    while (sink.write(chunk) && accepted < 10_000) accepted++;
    // The sink's own buffer (16 KiB by default) fills while the reader is stalled, and then it says stop.
    assert.ok(accepted * chunk.length < 32 * 1024, `the sink pushed back only after ${accepted} frames`);
    assert.ok(stdout.readableLength <= 64, 'the reader holds no more than one payload beyond its limit');
    let read = '';
    stdout.on('data', (data: Buffer) => (read += data.toString()));
    await new Promise((resolve) => sink.end(resolve));
    assert.equal(read.length, (accepted + 1) * 64);
    assert.ok(stderr.writableEnded);
  });

  it('reads log lines from frames', () => {
    assert.deepEqual(logLines(Buffer.concat([frame(1, 'a\r\nb'), frame(2, '\nc\n')])), ['a', 'b', 'c']);
    assert.deepEqual(logLines(Buffer.alloc(0)), []);
  });
});

describe('docker login shell', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\n# comment\nberth:x:1000:1000::/home/berth:/bin/zsh\nnoshell:x:1001:1001::/home/n:\n';
  const cases: Array<[string, string]> = [
    ['', '/bin/bash'],
    ['root', '/bin/bash'],
    ['0:0', '/bin/bash'],
    ['berth', '/bin/zsh'],
    ['1000:1000', '/bin/zsh'],
    ['noshell', '/bin/sh'],
    ['nobody', '/bin/sh'],
  ];
  for (const [user, shell] of cases) {
    it(`gives user ${JSON.stringify(user)} ${shell}`, () => assert.equal(loginShellFrom(passwd, user), shell));
  }
});

describe('docker observed state', () => {
  const info = (status: string, exitCode = 0) =>
    ({
      Id: 'abc',
      State: { Status: status, ExitCode: exitCode, StartedAt: '2026-01-02T03:04:05.123456789Z', FinishedAt: '0001-01-01T00:00:00Z' },
      Config: { Image: 'img', Labels: { 'berth.user': 'Zoë', 'berth.spec': 'h' } },
    }) as unknown as Docker.ContainerInspectInfo;

  it('reports a running container with its start time', () => {
    const observed = observe('n', info('running'), false);
    assert.equal(observed.state, 'running');
    assert.equal(observed.user, 'Zoë');
    assert.equal(observed.startedAt, Date.parse('2026-01-02T03:04:05.123Z'));
    assert.equal(observed.finishedAt, null);
    assert.equal(observed.exitCode, null);
  });

  it('tells an exit of its own from a requested stop', () => {
    assert.deepEqual([observe('n', info('exited', 3), false).state, observe('n', info('exited', 3), false).exitCode], ['exited', 3]);
    assert.equal(observe('n', info('exited', 143), true).state, 'stopped');
    assert.equal(observe('n', info('created'), false).state, 'stopped');
  });
});

describe("entering a berth's network namespace", () => {
  const local = engineAddress(dockerConfig(), {});
  const remote = engineAddress(dockerConfig({ socket: 'tcp://10.1.2.3:2376' }), {});

  it('may be tried by root on Linux with a local engine', () => {
    assert.equal(namespaceUnavailable(local, 0, 'linux'), null);
  });

  it('is out of reach, saying why, for a remote engine, a gateway that is not root, or another system', () => {
    assert.match(namespaceUnavailable(remote, 0, 'linux') ?? '', /tcp:\/\/10\.1\.2\.3:2376\) is on another host/);
    assert.match(namespaceUnavailable(local, 1000, 'linux') ?? '', /does not run as root/);
    assert.match(namespaceUnavailable(local, undefined, 'linux') ?? '', /does not run as root/);
    assert.match(namespaceUnavailable(local, 0, 'darwin') ?? '', /runs on darwin/);
  });
});
