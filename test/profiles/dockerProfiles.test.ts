import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX, DOCKER, removeByPrefix, withEngine } from '../helpers/docker.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { clientOptions, makeKey } from '../ssh/harness.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

/*
 * Profiles and the config webhook through `berth serve` on the real Docker
 * engine, in header mode (the auth proxy's user and groups headers, from
 * loopback). The webhook server below is written from ContainerSSH's
 * description of its config protocol (libcontainerssh config/protocol.go and
 * metadata/connection.go): a POST of the connection's metadata, answered with
 * {"config": AppConfig, ...metadata}; Docker's container and host
 * configuration sit under config.docker.execution.{container,host}.
 */

const prefix = `b18p-${randomBytes(3).toString('hex')}`;
const network = `${prefix}-net`;
const WEBHOOK_IMAGE = `${prefix}-webhook:latest`;
// Says who it runs for, under which profile, and what the home holds.
const GREETER = 'mkdir -p /tmp/www && echo "$BERTH_USER ${PROFILE:-course} ${GREETING:-none} $(cat $HOME/kept.txt 2>/dev/null)" > /tmp/www/index.html && exec httpd -f -p "$PORT" -h /tmp/www';

const as = (user: string, groups = '', extra: Record<string, string> = {}) => ({
  headers: { 'X-Forwarded-Preferred-Username': user, 'X-Forwarded-Groups': groups, ...extra },
  timeoutMs: 60_000,
});
const json = (body: unknown) => ({ 'content-type': 'application/json', body: JSON.stringify(body) });

async function post(base: string, path: string, user: string, groups: string, body: unknown) {
  const { body: text, ...headers } = json(body);
  return httpRequest(`${base}${path}`, { ...as(user, groups, headers), method: 'POST', body: text });
}

async function berthOf(base: string, user: string, groups = '') {
  const reply = await httpRequest(`${base}/_berth/api/me`, as(user, groups));
  return (JSON.parse(reply.body) as { berth: { state: string; image: string; failure: { reason: string } | null; profile: unknown } }).berth;
}

function containerOf(user: string): { id: string; image: string } | null {
  try {
    const [id = '', image = ''] = execFileSync('docker', ['inspect', '-f', '{{.Id}} {{.Config.Image}}', `${prefix}-${user}`], { encoding: 'utf8' }).trim().split(' ');
    return { id, image };
  } catch {
    return null;
  }
}

withEngine('profiles and the config webhook on docker', () => {
  describe('profiles and the config webhook on docker', { timeout: 300_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'b18p-'));
    const requests: Array<Record<string, unknown>> = [];
    let webhook: Server;
    let gateway: Served;
    let sshPort: number;

    before(async () => {
      sshPort = await freeLoopbackPort();
      execFileSync('docker', ['tag', BUSYBOX, WEBHOOK_IMAGE]);
      webhook = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString('utf8')));
        req.on('end', () => {
          const asked = JSON.parse(body) as Record<string, unknown>;
          requests.push(asked);
          const answer = (status: number, value: unknown) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(value));
          };
          switch (asked.username) {
            case 'wh-image':
              return answer(200, {
                config: { backend: 'docker', docker: { execution: { container: { image: WEBHOOK_IMAGE, env: ['GREETING=from-webhook'] } } } },
                environment: { PROFILE: { value: 'webhook', sensitive: false } },
              });
            case 'wh-priv':
              return answer(200, { config: { backend: 'docker', docker: { execution: { container: { image: WEBHOOK_IMAGE }, host: { privileged: true, capAdd: ['SYS_ADMIN'] } } } } });
            case 'wh-files':
              // ContainerSSH's metadata.BinaryValue: base64 bytes, and whether they are sensitive.
              return answer(200, {
                config: {},
                files: {
                  '/home/berth/.config/course/settings.ini': { value: Buffer.from('[course]\nname=intro\n').toString('base64'), sensitive: false },
                  '.ssh/id_course': { value: Buffer.from('not really a key').toString('base64'), sensitive: true },
                },
              });
            case 'wh-escape':
              return answer(200, { config: {}, files: { '/etc/motd': { value: Buffer.from('owned').toString('base64'), sensitive: false } } });
            case 'wh-down':
              return answer(500, { error: 'down' });
            default:
              return answer(200, { config: {} });
          }
        });
      });
      await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
      const configFile = join(dir, 'berth.yaml');
      writeFileSync(
        configFile,
        [
          `dataDir: ${join(dir, 'data')}`,
          `listen: { ssh: "127.0.0.1:${sshPort}" }`,
          'log: { level: warn }',
          'auth: { mode: header }',
          `runtime: { kind: docker, docker: { namePrefix: ${prefix}, network: ${network} } }`,
          'environment:',
          `  image: ${BUSYBOX}`,
          `  command: [sh, -c, ${JSON.stringify(GREETER)}]`,
          'spawn: { stopGraceSeconds: 1, timeoutSeconds: 20 }',
          'profiles:',
          '  - { slug: course, displayName: Course, description: The course image, default: true }',
          '  - slug: gpu',
          '    displayName: GPU',
          '    allowedGroups: [research]',
          '    overrides: { env: { PROFILE: gpu } }',
          `configWebhook: { url: "http://127.0.0.1:${(webhook.address() as AddressInfo).port}/config", timeoutSeconds: 1 }`,
          '',
        ].join('\n'),
      );
      // A loaded machine can take a while to start the gateway.
      gateway = await berthServe(['--config', configFile], {}, 90_000);
    });

    after(async () => {
      await stopServe(gateway, 'SIGKILL');
      webhook.close();
      await removeByPrefix(prefix, [network], DOCKER);
      execFileSync('docker', ['rmi', WEBHOOK_IMAGE]);
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses a forged start of a group-restricted profile with 403 naming the group, and lists it only to its group', async () => {
      const forged = await post(gateway.base, '/_berth/api/me/start', 'bob', 'students', { profile: 'gpu' });
      assert.equal(forged.status, 403, forged.body);
      assert.match((JSON.parse(forged.body) as { error: { message: string } }).error.message, /members of "research" may use the profile "gpu"/);
      assert.equal(containerOf('bob'), null, 'nothing was started');
      const choice = await post(gateway.base, '/_berth/api/me/start', 'bob', 'students', { profile: 'course', options: { size: 'big' } });
      assert.equal(choice.status, 400, 'an option the profile does not have');
      const listed = (who: string, groups: string) =>
        httpRequest(`${gateway.base}/_berth/api/me/profiles`, as(who, groups)).then((r) => (JSON.parse(r.body) as { profiles: Array<{ slug: string }> }).profiles.map((p) => p.slug));
      assert.deepEqual(await listed('bob', 'students'), ['course']);
      assert.deepEqual(await listed('dave', 'staff, research'), ['course', 'gpu']);
    });

    it('switching profile re-creates the berth from the new template and keeps the home', async () => {
      assert.equal((await post(gateway.base, '/_berth/api/me/start', 'dave', 'research', { profile: 'course' })).status, 202);
      await eventually(async () => ((await berthOf(gateway.base, 'dave', 'research')).state === 'ready' ? true : undefined), 30_000, 'the course berth');
      const first = containerOf('dave');
      execFileSync('docker', ['exec', `${prefix}-dave`, 'sh', '-c', 'echo kept > /home/berth/kept.txt']);
      assert.equal((await post(gateway.base, '/_berth/api/me/start', 'dave', 'research', { profile: 'gpu' })).status, 202);
      await eventually(async () => ((await berthOf(gateway.base, 'dave', 'research')).state === 'ready' ? true : undefined), 30_000, 'the gpu berth');
      const second = containerOf('dave');
      assert.notEqual(second?.id, first?.id, 're-created');
      const page = await httpRequest(`${gateway.base}/`, as('dave', 'research'));
      assert.equal(page.body.trim(), 'dave gpu none kept', 'the new profile runs over the old home');
      assert.deepEqual((await berthOf(gateway.base, 'dave', 'research')).profile, { profile: 'gpu', options: {} });
    });

    it('SSH starts the profile last started, and tells the webhook about the SSH connection', async () => {
      assert.equal((await post(gateway.base, '/_berth/api/me/start', 'erin', 'research', { profile: 'gpu' })).status, 202);
      await eventually(async () => ((await berthOf(gateway.base, 'erin', 'research')).state === 'ready' ? true : undefined), 30_000, 'the gpu berth');
      assert.equal((await post(gateway.base, '/_berth/api/me/stop', 'erin', 'research', {})).status, 200);
      const key = makeKey(dir, 'erin');
      assert.equal((await post(gateway.base, '/_berth/api/me/keys', 'erin', 'research', { key: key.publicKey })).status, 201);
      // Not execFileSync: the webhook server answering this spawn runs in this process.
      const { stdout: out } = await promisify(execFile)('ssh', [...clientOptions(key), '-p', String(sshPort), 'erin@127.0.0.1', '--', 'echo profile=$PROFILE'], { encoding: 'utf8', timeout: 90_000 });
      assert.match(out, /profile=gpu/);
      const asked = requests.filter((r) => r.username === 'erin').at(-1) as { berth: { protocol: string; groups: string[]; profile: string }; clientVersion: string; remoteAddress: string };
      assert.deepEqual([asked.berth.protocol, asked.berth.profile, asked.berth.groups], ['ssh', 'gpu', ['research']], 'the groups of the last web start');
      assert.match(asked.clientVersion, /^SSH-2\.0-OpenSSH/);
      assert.match(asked.remoteAddress, /^127\.0\.0\.1:\d+$/);
    });

    it('asks the webhook in ContainerSSH\'s request shape and runs the image its answer names', async () => {
      const page = await httpRequest(`${gateway.base}/`, as('wh-image', 'staff'));
      assert.equal(page.status, 200, page.body);
      assert.equal(page.body.trim(), 'wh-image webhook from-webhook', 'env from the container config and from environment metadata');
      assert.equal(containerOf('wh-image')?.image, WEBHOOK_IMAGE);
      const asked = requests.find((r) => r.username === 'wh-image');
      assert.ok(asked);
      for (const key of ['username', 'authenticatedUsername', 'remoteAddress', 'connectionId', 'clientVersion']) assert.equal(typeof asked[key], 'string', key);
      assert.equal(asked.authenticatedUsername, 'wh-image');
      assert.match(asked.remoteAddress as string, /^127\.0\.0\.1:\d+$/, 'ip:port, as ContainerSSH servers parse it');
      assert.match(asked.connectionId as string, /^[0-9a-f]{16}$/);
      for (const key of ['metadata', 'environment', 'files']) assert.deepEqual(asked[key], {}, key);
      assert.deepEqual(asked.berth, { protocol: 'http', groups: ['staff'], profile: 'course', options: {} });
    });

    it("writes the answer's files into the home before the berth starts", async () => {
      const page = await httpRequest(`${gateway.base}/`, as('wh-files'));
      assert.equal(page.status, 200, page.body);
      const inBerth = (script: string) => execFileSync('docker', ['exec', `${prefix}-wh-files`, 'sh', '-c', script], { encoding: 'utf8' });
      assert.equal(inBerth('cat /home/berth/.config/course/settings.ini'), '[course]\nname=intro\n');
      assert.equal(inBerth('stat -c "%a %s" /home/berth/.ssh/id_course'), '600 16\n', 'a sensitive value is private to the user');
    });

    it('refuses an answer with a file outside the home, and starts nothing', async () => {
      assert.equal((await post(gateway.base, '/_berth/api/me/start', 'wh-escape', '', {})).status, 202);
      const failure = await eventually(async () => (await berthOf(gateway.base, 'wh-escape')).failure ?? undefined, 20_000, 'the refusal');
      assert.match(failure.reason, /a file outside the home \("\/etc\/motd"\)/);
      assert.equal(containerOf('wh-escape'), null);
      assert.ok(gateway.lines.some((l) => l.code === 'webhook_refused' && l.user === 'wh-escape'), 'logged');
    });

    it('refuses a privileged answer, logs it, and starts nothing', async () => {
      assert.equal((await post(gateway.base, '/_berth/api/me/start', 'wh-priv', '', {})).status, 202);
      const failure = await eventually(async () => (await berthOf(gateway.base, 'wh-priv')).failure ?? undefined, 20_000, 'the refusal');
      assert.match(failure.reason, /privileged container; added capabilities \(SYS_ADMIN\)/);
      assert.equal(containerOf('wh-priv'), null);
      assert.ok(gateway.lines.some((l) => l.code === 'webhook_refused' && l.user === 'wh-priv'), 'logged');
    });

    it('retries a failing webhook within spawn.timeoutSeconds and gives the reason', async () => {
      const began = Date.now();
      assert.equal((await post(gateway.base, '/_berth/api/me/start', 'wh-down', '', {})).status, 202);
      const failure = await eventually(async () => (await berthOf(gateway.base, 'wh-down')).failure ?? undefined, 40_000, 'the failure');
      assert.match(failure.reason, /configuration service answered HTTP 500 \(\d+ attempts\)/);
      assert.ok(requests.filter((r) => r.username === 'wh-down').length >= 3, 'retried');
      assert.ok(Date.now() - began < 30_000, 'within the spawn timeout');
      assert.equal(containerOf('wh-down'), null);
    });
  });
});
