import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { safeName } from '../../src/core/safeName.js';
import { berthSpecFor } from '../../src/runtime/spec.js';

const specOf = (environment: ConfigInput['environment'], user = 'alice') => berthSpecFor(configSchema.parse({ environment }), user);

describe('berthSpecFor', () => {
  it('names the berth by the safe name and keeps the username', () => {
    const spec = specOf({}, '../Alice');
    assert.equal(spec.user, '../Alice');
    assert.equal(spec.name, safeName('../Alice'));
  });

  it('carries the environment template', () => {
    const spec = specOf({ image: 'img', command: ['run', '${PORT}'], port: 9000, user: '1000:1000', env: { A: '1' } });
    assert.deepEqual(
      { image: spec.image, command: spec.command, port: spec.port, runAsUser: spec.runAsUser, env: spec.env, homePath: spec.homePath },
      { image: 'img', command: ['run', '${PORT}'], port: 9000, runAsUser: '1000:1000', env: { A: '1' }, homePath: '/home/berth' },
    );
  });

  it('gives every user the same hash for the same template', () => {
    assert.equal(specOf({}, 'alice').hash, specOf({}, 'bob').hash);
  });

  it('ignores the order of keys', () => {
    assert.equal(specOf({ env: { A: '1', B: '2' } }).hash, specOf({ env: { B: '2', A: '1' } }).hash);
  });

  it('changes the hash when anything that shapes the berth changes', () => {
    const base = specOf({}).hash;
    const changes: ConfigInput['environment'][] = [
      { image: 'other' },
      { command: ['x'] },
      { port: 9999 },
      { env: { A: '1' } },
      { homePath: '/home/other' },
      { workingDir: '/w' },
      { user: 'nobody' },
      { limits: { memory: '1g' } },
      { limits: { cpus: 2 } },
      { limits: { pids: 100 } },
      { capabilities: [] },
      { readOnlyRoot: true },
      { mounts: [{ source: '/data', target: '/data' }] },
    ];
    const hashes = changes.map((change) => specOf(change).hash);
    for (const [i, hash] of hashes.entries()) assert.notEqual(hash, base, JSON.stringify(changes[i]));
    assert.equal(new Set(hashes).size, hashes.length);
  });
});
