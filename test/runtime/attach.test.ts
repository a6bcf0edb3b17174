import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { AttachRuntime } from '../../src/runtime/attach/attachRuntime.js';
import { createRuntime } from '../../src/runtime/registry.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import { substituteArgs, type BerthSpec } from '../../src/runtime/types.js';
import { describeRuntimeConformance, eventually, run } from '../conformance/runtime.js';
import { BUSYBOX, DEBIAN, ENGINES, LOOPBACK_SERVER, removeByPrefix, withEngine, type TestEngine } from '../helpers/docker.js';

/*
 * The attach runtime against each real engine: the berths are containers
 * this test starts itself, as whatever else would, with the labels the
 * runtime finds them by. Its own marker label per run keeps the containers of
 * other test files (and runs) out of sight.
 */

const SERVER = ['sh', '-c', 'exec busybox httpd -f -p "$PORT"'];
const PORT = 8888;
const noProgress = () => undefined;

function attachSuites(on: TestEngine): Promise<void> {
  const prefix = `b18a-${randomBytes(4).toString('hex')}`;
  const marker = `${prefix}.attach`;

  function attachConfig(overrides: ConfigInput['attach'] = {}) {
    return configSchema.parse({
      runtime: { kind: 'attach', docker: { socket: on.socket } },
      attach: { requireLabel: `${marker}=true`, ...overrides },
      environment: { port: PORT },
    });
  }

  function makeRuntime(overrides: ConfigInput['attach'] = {}): AttachRuntime {
    const config = attachConfig(overrides);
    return new AttachRuntime({ docker: config.runtime.docker, attach: config.attach, defaultPort: PORT, logger: createLogger('silent') });
  }

  const specFor = (user: string, command: string[]): BerthSpec => berthSpecFor(configSchema.parse({ environment: { image: BUSYBOX, command, port: PORT } }), user);

  /** Starts a container as an operator's own tooling would, labeled for `user`; resolves with its id. */
  async function launch(name: string, user: string, options: { image?: string; command?: string[]; labels?: Record<string, string>; marked?: boolean } = {}): Promise<string> {
    const labels: Record<string, string> = { 'berth.user': user, ...(options.marked === false ? {} : { [marker]: 'true' }), ...options.labels };
    const container = await on.client.createContainer({
      name: `${prefix}-${name}`,
      Image: options.image ?? BUSYBOX,
      Cmd: options.command ?? ['sh', '-c', 'exec sleep 1000'],
      Env: [`BERTH_USER=${user}`, `PORT=${PORT}`, 'HOME=/root'],
      Labels: labels,
      StopSignal: 'SIGKILL',
    });
    await container.start();
    return container.id;
  }

  const cleanup = () => removeByPrefix(prefix, [], on);

  return withEngine(`attach runtime on ${on.kind}`, () => {
    describeRuntimeConformance(
      `attach on ${on.kind}`,
      async () => {
        const runtime = makeRuntime();
        let count = 0;
        return {
          runtime,
          specFor: (user, command) => specFor(`${prefix}-${user}`, command),
          serverCommand: SERVER,
          loopbackServerCommand: LOOPBACK_SERVER,
          isolatesBerths: { skip: 'Berth does not choose the network of containers it attaches to; whoever runs them keeps them apart' },
          launch: async (spec) => {
            await launch(`c${++count}`, spec.user, { command: substituteArgs(spec.command ?? [], { PORT, USER: spec.user }), labels: { 'berth.port': String(PORT) } });
          },
          cleanup: async () => {
            await runtime.close();
            await cleanup();
          },
        };
      },
      { creates: false, stops: false },
    );

    describe(`attach runtime on ${on.kind}`, () => {
      let runtime: AttachRuntime;
      before(() => {
        runtime = makeRuntime();
      });
      after(async () => {
        await runtime.close();
        await cleanup();
      });

      it('is what the registry makes for runtime.kind attach', async () => {
        const made = createRuntime(attachConfig(), { dataDir: '/tmp/berth-registry-test', logger: createLogger('silent'), defaultCommand: ['true'] });
        assert.equal(made.kind, 'attach');
        assert.deepEqual(made.capabilities, { creates: false, stops: false });
        await made.health();
        await made.close();
      });

      it('refuses a user with no running container, naming the labels and the stopped one it found', async () => {
        const user = `${prefix}-nobody`;
        await assert.rejects(runtime.ensure(specFor(user, SERVER), noProgress), (err: { code: string; userMessage: string }) => {
          assert.equal(err.code, 'spawn_failed');
          assert.match(err.userMessage, new RegExp(`No running container carries the labels berth\\.user=${user} and ${marker.replace('.', '\\.')}=true\\. `));
          return true;
        });
        const id = await launch('stopped', user);
        await on.client.getContainer(id).stop({ t: 0 });
        await assert.rejects(runtime.ensure(specFor(user, SERVER), noProgress), (err: { userMessage: string }) => {
          assert.match(err.userMessage, new RegExp(`found 1 not running: ${prefix}-stopped \\(${id.slice(0, 12)}\\)`));
          return true;
        });
        assert.equal((await on.client.getContainer(id).inspect()).State.Running, false, 'a stopped container is never started');
      });

      it('never attaches a container without the marker label, however it names the user', async () => {
        const user = `${prefix}-stray`;
        await launch('stray', user, { marked: false });
        await assert.rejects(runtime.ensure(specFor(user, SERVER), noProgress), { code: 'spawn_failed' });
        assert.equal((await runtime.inspect(specFor(user, SERVER).name)).state, 'absent');
        assert.ok(!(await runtime.list()).some((b) => b.user === user));
      });

      it('refuses a user with two running containers in ensure, exec and connect, naming both, and lists neither', async () => {
        const user = `${prefix}-twice`;
        const spec = specFor(user, SERVER);
        const ids = [await launch('twice-1', user), await launch('twice-2', user)];
        const names = new RegExp(`2 running containers carry the labels berth\\.user=${user} .*${prefix}-twice-\\d .*${prefix}-twice-\\d .*remove those labels from all but one`);
        await assert.rejects(runtime.ensure(spec, noProgress), (err: { userMessage: string }) => names.test(err.userMessage));
        await assert.rejects(runtime.exec(spec.name, { command: ['true'], env: {}, tty: null }), (err: { userMessage: string }) => names.test(err.userMessage));
        await assert.rejects(runtime.connect(spec.name, PORT), (err: { userMessage: string }) => names.test(err.userMessage));
        assert.ok(!(await runtime.list()).some((b) => b.user === user));
        for (const id of ids) assert.equal((await on.client.getContainer(id).inspect()).State.Running, true, 'both keep running');
      });

      it('takes the main port from the port label, else environment.port, and reports the engine image', async () => {
        const labelled = `${prefix}-labelled`;
        await launch('labelled', labelled, { labels: { 'berth.port': '9000', 'berth.image': 'claimed/by-label' } });
        const observed = await runtime.ensure(specFor(labelled, SERVER), noProgress);
        assert.equal(observed.user, labelled);
        assert.equal(observed.image, on.kind === 'docker' ? BUSYBOX : `localhost/${BUSYBOX}`);
        assert.equal(await runtime.mainPort(specFor(labelled, SERVER).name), 9000);
        const plain = `${prefix}-plain`;
        await launch('plain', plain);
        await runtime.ensure(specFor(plain, SERVER), noProgress);
        assert.equal(await runtime.mainPort(specFor(plain, SERVER).name), PORT);
      });

      it('reads authorized_keys from the key label and from files through the archive API, starting no process in the container', async () => {
        const user = `${prefix}-keys`;
        const line = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(n).padStart(43, 'A')} key${n}`;
        const id = await launch('keys', user, {
          image: DEBIAN,
          labels: { 'berth.authorizedKeys': line(1), 'berth.authorizedKeysFiles': '/etc/extra_keys, relative/ignored, /etc/absent' },
          command: [
            'sh',
            '-c',
            [
              `mkdir -p /home/${user}/.ssh /etc`,
              `echo "${line(2)}" > /home/${user}/.ssh/authorized_keys`,
              `echo "${line(3)}" > /etc/extra_keys`,
              'exec sleep 1000',
            ].join(' && '),
          ],
        });
        const spec = specFor(user, SERVER);
        await runtime.ensure(spec, noProgress);
        const since = Math.floor(Date.now() / 1000);
        assert.deepEqual(await runtime.authorizedKeys(user, 'label'), [{ origin: `label berth.authorizedKeys of container ${prefix}-keys`, text: line(1) }]);
        // The container writes its files as it starts.
        const files = await eventually(async () => {
          const found = await runtime.authorizedKeys(user, 'files');
          return found.length >= 2 && found;
        }, 'both files to be read');
        assert.deepEqual(files.map((f) => [f.origin, f.text.trim()]), [
          [`/etc/extra_keys in container ${prefix}-keys`, line(3)],
          [`/home/${user}/.ssh/authorized_keys in container ${prefix}-keys`, line(2)],
        ]);
        const events = await on.client.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { container: [id], event: ['exec_create', 'exec_start'] } });
        let seen = '';
        for await (const chunk of events as AsyncIterable<Buffer>) seen += chunk.toString();
        assert.equal(seen, '', 'no exec ran in the container while its keys were read');
        assert.deepEqual(await runtime.authorizedKeys(`${prefix}-nobody-has`, 'files'), [], 'a user with no container has no keys');
      });

      it('follows symbolic links inside the container, and skips authorized_keys that are directories, writable by others, too large or loops of links', async () => {
        const user = `${prefix}-badkeys`;
        const strict = makeRuntime({ keyFiles: ['/k/link', '/k/dir', '/k/open', '/k/big', '/k/loop', '/k/good'], maxKeyFileBytes: 1024 });
        await launch('badkeys', user, {
          image: DEBIAN,
          command: [
            'sh',
            '-c',
            'mkdir -p /k/dir && echo good > /k/good && chmod 600 /k/good && ln -s good /k/link && ln -s /k/loop /k/loop2 && ln -s loop2 /k/loop && echo open > /k/open && chmod 666 /k/open && head -c 4096 /dev/zero > /k/big && exec sleep 1000',
          ],
        });
        // The container makes its files as it starts; both readable ones are there once it has.
        const files = await eventually(async () => {
          const found = await strict.authorizedKeys(user, 'files');
          return found.length >= 2 && found;
        }, 'the file and the link to it to be read');
        assert.deepEqual(files.map((f) => [f.origin, f.text]), [
          [`/k/link in container ${prefix}-badkeys`, 'good\n'],
          [`/k/good in container ${prefix}-badkeys`, 'good\n'],
        ]);
        await strict.close();
      });

      it('runs exec arguments as given, without a shell joining them', async () => {
        const user = `${prefix}-argv`;
        await launch('argv', user, { image: DEBIAN });
        const spec = specFor(user, SERVER);
        await runtime.ensure(spec, noProgress);
        const result = await run(runtime, spec.name, ['printf', '[%s]', 'two words', "it's", '$HOME', ';', 'true']);
        assert.deepEqual(result, { stdout: "[two words][it's][$HOME][;][true]", stderr: '', code: 0, signal: null });
      });
    });
  }, on);
}

for (const on of ENGINES) await attachSuites(on);
