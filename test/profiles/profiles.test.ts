import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { BerthError } from '../../src/core/errors.js';
import { HOME_FILE_LIMITS, homeFilesOf } from '../../src/core/homeFiles.js';
import { createLogger } from '../../src/log/logger.js';
import { resolveSelection, visibleProfiles } from '../../src/profiles/profiles.js';
import { answerOf } from '../../src/profiles/webhookAnswer.js';
import { profileOverrides } from '../../src/config/schema.js';
import { podManifest } from '../../src/runtime/kubernetes/manifests.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import { SpawnPlanner } from '../../src/spawner/plan.js';
import { Store } from '../../src/store/store.js';

const PROFILES: NonNullable<ConfigInput['profiles']> = [
  { slug: 'course', displayName: 'Course', description: 'For the course', default: true },
  {
    slug: 'gpu',
    displayName: 'GPU node',
    allowedGroups: ['research'],
    overrides: {
      image: 'cuda/base',
      env: { CUDA: '1' },
      limits: { memory: '8g' },
      kubernetes: { nodeSelector: { 'example.com/gpu': 'a100' }, tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }], resources: { 'nvidia.com/gpu': '1' } },
    },
    options: [
      {
        slug: 'size',
        displayName: 'Size',
        choices: [
          { slug: 'one', displayName: 'One GPU', default: true },
          { slug: 'four', displayName: 'Four GPUs', allowedUsers: ['carol'], overrides: { kubernetes: { resources: { 'nvidia.com/gpu': '4' } } } },
        ],
      },
    ],
  },
];

const config = (extra: ConfigInput = {}) =>
  configSchema.parse({ environment: { image: 'base', env: { LANG: 'C' } }, runtime: { kind: 'kubernetes' }, profiles: PROFILES, ...extra });

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
async function store(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'b18p-profiles-'));
  dirs.push(dir);
  return Store.open(dir);
}

describe('profiles', () => {
  it('hides a group-restricted profile, and a restricted choice, from everyone outside them', () => {
    const c = config();
    assert.deepEqual(visibleProfiles(c.profiles, { name: 'bob', groups: ['students'] }).map((p) => p.slug), ['course']);
    const research = visibleProfiles(c.profiles, { name: 'dave', groups: ['research'] });
    assert.deepEqual(research.map((p) => p.slug), ['course', 'gpu']);
    assert.deepEqual(research[1]?.options[0]?.choices.map((ch) => ch.slug), ['one'], 'the choice open to carol alone is not listed for dave');
  });

  it('refuses a restricted profile or choice with 403 naming the groups that may', () => {
    const c = config();
    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err as BerthError;
      }
      assert.fail('expected a refusal');
    };
    const profile = refusal(() => resolveSelection(c.profiles, { name: 'bob', groups: ['students'] }, { profile: 'gpu' }));
    assert.equal(profile.status, 403);
    assert.match(profile.userMessage, /"research"/);
    const choice = refusal(() => resolveSelection(c.profiles, { name: 'dave', groups: ['research'] }, { profile: 'gpu', options: { size: 'four' } }));
    assert.equal(choice.status, 403);
    assert.match(choice.userMessage, /1 named user/);
    assert.doesNotMatch(choice.userMessage, /carol/, 'who else may use it is not told');
    assert.equal(refusal(() => resolveSelection(c.profiles, { name: 'bob', groups: [] }, { profile: 'nope' })).status, 400);
    assert.deepEqual(resolveSelection(c.profiles, { name: 'carol', groups: ['research'] }, { profile: 'gpu', options: { size: 'four' } }), { profile: 'gpu', options: { size: 'four' } });
  });

  it('names the key of a bad profile in the configuration', () => {
    const result = configSchema.safeParse({ profiles: [{ slug: 'A B', displayName: 'x' }, { slug: 'ok', displayName: 'y', overrides: { privileged: true } }] });
    assert.equal(result.success, false);
    const paths = result.error?.issues.map((i) => i.path.join('.')) ?? [];
    assert.ok(paths.includes('profiles.0.slug'), paths.join(' '));
    assert.ok(result.error?.issues.some((i) => i.path.join('.') === 'profiles.1.overrides' && i.code === 'unrecognized_keys'));
    assert.equal(configSchema.safeParse({ profiles: [{ slug: 'a', displayName: 'A', default: true }, { slug: 'b', displayName: 'B', default: true }] }).success, false);
  });

  it('renders a GPU profile into the pod: the extended resource, node selector and tolerations beside the operator\'s', async () => {
    const c = config({ runtime: { kind: 'kubernetes', kubernetes: { nodeSelector: { zone: 'a' }, tolerations: [{ key: 'shared', operator: 'Exists' }] } } });
    const s = await store();
    const planner = new SpawnPlanner({ config: c, store: s, logger: createLogger('silent'), webhook: null });
    const plan = await planner.plan('carol', 'api', { choice: { profile: 'gpu', options: { size: 'four' } }, groups: ['research'] }, Date.now() + 5000, () => undefined);
    const pod = podManifest(plan.spec, { config: c.runtime.kubernetes, instanceId: 'i', stopGraceSeconds: 1, gatewayNamespace: 'berth-system' });
    const container = pod.spec?.containers[0];
    assert.equal(container?.image, 'cuda/base');
    assert.equal(container?.resources?.limits?.['nvidia.com/gpu'], '4', 'the choice overrides the profile\'s one GPU');
    assert.equal(container?.resources?.requests?.['nvidia.com/gpu'], '4');
    assert.equal(container?.resources?.limits?.memory, String(8 * 1024 ** 3));
    assert.deepEqual(pod.spec?.nodeSelector, { zone: 'a', 'example.com/gpu': 'a100' });
    assert.deepEqual(pod.spec?.tolerations, [{ key: 'shared', operator: 'Exists' }, { key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    assert.deepEqual(Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value])).CUDA, '1');
    // SSH later starts the same profile from the store, with the groups seen then.
    const again = await planner.plan('carol', 'ssh', {}, Date.now() + 5000, () => undefined);
    assert.equal(again.spec.hash, plan.spec.hash);
    assert.deepEqual(again.selection, { profile: 'gpu', options: { size: 'four' } });
    await s.close();
  });

  it('changes the spec hash with the profile or its options, and leaves it as before without profiles', async () => {
    const s = await store();
    const c = config();
    const planner = new SpawnPlanner({ config: c, store: s, logger: createLogger('silent'), webhook: null });
    const deadline = Date.now() + 5000;
    const course = await planner.plan('dave', 'api', { choice: { profile: 'course' }, groups: ['research'] }, deadline, () => undefined);
    const gpu = await planner.plan('dave', 'api', { choice: { profile: 'gpu' }, groups: ['research'] }, deadline, () => undefined);
    assert.notEqual(course.spec.hash, gpu.spec.hash);
    assert.notEqual(course.spec.hash, berthSpecFor(c, 'dave').hash, 'the profile itself is part of the digest');
    const plain = configSchema.parse({ environment: { image: 'base', env: { LANG: 'C' } } });
    const none = await new SpawnPlanner({ config: plain, store: s, logger: createLogger('silent'), webhook: null }).plan('dave', 'http', {}, deadline, () => undefined);
    assert.equal(none.spec.hash, berthSpecFor(plain, 'dave').hash);
    await s.close();
  });

  it('reads a ContainerSSH Kubernetes answer and refuses one that would loosen confinement', () => {
    const c = configSchema.parse({ runtime: { kind: 'kubernetes', kubernetes: { allowedMounts: ['pvc/data'] } } });
    const pod = (spec: unknown) => ({ config: { backend: 'kubernetes', kubernetes: { pod: { metadata: { labels: { team: 'a' } }, spec } } } });
    const ok = answerOf(pod({ containers: [{ name: 'shell', image: 'lab', env: [{ name: 'A', value: '1' }], resources: { limits: { 'nvidia.com/gpu': '2', cpu: '500m', memory: '2Gi' } } }], nodeSelector: { gpu: 'yes' } }), c, profileOverrides);
    assert.ok(!('refused' in ok));
    assert.deepEqual(ok.overrides[0], { image: 'lab', env: { A: '1' }, limits: { cpus: 0.5, memory: '2G' }, kubernetes: { nodeSelector: { gpu: 'yes' }, tolerations: [], resources: { 'nvidia.com/gpu': '2' } } });
    assert.deepEqual(ok.labels, { team: 'a' });
    const refusedOf = (body: unknown) => {
      const answer = answerOf(body, c, profileOverrides);
      assert.ok('refused' in answer, JSON.stringify(body));
      return answer.refused.join('; ');
    };
    assert.match(refusedOf(pod({ containers: [{ image: 'x', securityContext: { privileged: true } }] })), /privileged/);
    assert.match(refusedOf(pod({ hostNetwork: true, containers: [] })), /hostNetwork/);
    assert.match(refusedOf(pod({ volumes: [{ name: 'root', hostPath: { path: '/' } }], containers: [] })), /hostPath/);
    const withFiles = answerOf({ config: {}, files: { '/home/berth/.bashrc': { value: 'ZWNobw==' } } }, c, profileOverrides);
    assert.ok(!('refused' in withFiles) && withFiles.files['/home/berth/.bashrc'], 'files are kept for the home they go into');
    assert.match(refusedOf({ config: {}, berth: { overrides: { mounts: [{ source: 'pvc/other', target: '/data' }] } } }), /a mount of pvc\/other/);
    assert.match(refusedOf({ config: {}, berth: { overrides: { capabilities: ['CHOWN', 'NET_ADMIN'] } } }), /NET_ADMIN/);
    const docker = configSchema.parse({ runtime: { kind: 'docker', docker: { allowedMounts: ['/srv/data'] } } });
    const binds = (list: string[]) => answerOf({ config: { docker: { execution: { host: { Binds: list } } } } }, docker, profileOverrides);
    assert.ok(!('refused' in binds(['/srv/data/course:/data:ro'])));
    assert.ok('refused' in binds(['/srv/data/../../etc:/etc']), 'a path climbing out of the allowed one');
  });

  it('confines a config webhook\'s files to the home: paths, base64 and caps', () => {
    const b64 = (text: string) => ({ value: Buffer.from(text).toString('base64') });
    const ok = homeFilesOf({ '/home/berth/.ssh/config': { ...b64('Host *'), sensitive: true }, 'notes/a b.txt': b64(''), '/home/berth/x..y': b64('z') }, '/home/berth/');
    assert.deepEqual(ok, {
      files: [
        { path: '.ssh/config', content: Buffer.from('Host *'), mode: 0o600 },
        { path: 'notes/a b.txt', content: Buffer.alloc(0), mode: 0o644 },
        { path: 'x..y', content: Buffer.from('z'), mode: 0o644 },
      ],
    });
    const refused = (raw: Record<string, unknown>) => {
      const result = homeFilesOf(raw, '/home/berth');
      assert.ok('refused' in result, JSON.stringify(Object.keys(raw)));
      return result.refused.join('; ');
    };
    for (const path of ['../etc/passwd', 'a/../../b', '/etc/passwd', '/home/berthx/f', '/home/berth', '/home/berth/', '/home/berth/../root/f', './f', 'a//b', 'dir/', '', 'nul\0byte', 'x'.repeat(HOME_FILE_LIMITS.pathBytes + 1)]) {
      assert.match(refused({ [path]: b64('x') }), /a file outside the home/, JSON.stringify(path));
    }
    assert.match(refused({ f: { value: 'not base64!' } }), /not base64 \(f\)/);
    assert.match(refused({ f: 'aGk=' }), /not base64/, 'a bare string is not ContainerSSH\'s {value}');
    assert.match(refused({ big: { value: Buffer.alloc(HOME_FILE_LIMITS.fileBytes + 1).toString('base64') } }), /larger than \d+ bytes \(big\)/);
    assert.match(refused({ a: b64('x'), 'a/b': b64('y') }), /a file that is also the directory of another \(a\)/);
    assert.match(refused({ 'x/y/z': b64('x'), 'x/y': b64('y') }), /the directory of another \(x\/y\)/, 'whichever comes first');
    assert.match(refused({ '.bashrc': b64('x'), '/home/berth/.bashrc': b64('y') }), /one file given twice \(\.bashrc\)/);
    assert.ok('files' in homeFilesOf({ 'a/b': b64('x'), 'a/c': b64('y'), ab: b64('z') }, '/home/berth'), 'siblings and look-alike names are no clash');
    const many = Object.fromEntries(Array.from({ length: HOME_FILE_LIMITS.count + 1 }, (_, i) => [`f${i}`, b64('x')]));
    assert.match(refused(many), /65 files/);
    const heavy = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}`, { value: Buffer.alloc(HOME_FILE_LIMITS.fileBytes).toString('base64') }]));
    assert.match(refused(heavy), /in all/);
    assert.match(refused({ '../a': b64('x'), b: { value: '%' } }), /outside the home.*; .*not base64/, 'every reason is listed');
  });
});
