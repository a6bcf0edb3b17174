import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { parseMaxStartups } from '../../src/config/maxStartups.js';
import { sourceOf, StartupGate } from '../../src/ssh/startups.js';

describe('ssh.maxStartups', () => {
  const parsed: Array<[string, ReturnType<typeof parseMaxStartups>]> = [
    ['10:30:100', { start: 10, rate: 30, full: 100 }],
    [' 1:0:1 ', { start: 1, rate: 0, full: 1 }],
    ['5:100:5', { start: 5, rate: 100, full: 5 }],
    ['20', { start: 20, rate: 100, full: 20 }],
    ['', null],
    ['0', null],
    ['10:30', null],
    ['10:30:100:5', null],
    ['100:30:10', null],
    ['10:101:100', null],
    ['0:30:100', null],
    ['10:-1:100', null],
    ['10:30.5:100', null],
    ['1e3', null],
    ['ten:30:100', null],
  ];
  for (const [text, expected] of parsed) {
    it(`reads ${JSON.stringify(text)} as ${JSON.stringify(expected)}`, () => assert.deepEqual(parseMaxStartups(text), expected));
  }

  const load = (yaml: string, env: Record<string, string> = {}) => {
    const file = join(mkdtempSync(join(tmpdir(), 'berth-startups-')), 'berth.yaml');
    writeFileSync(file, yaml);
    return loadConfig({ file, env }).config.ssh;
  };

  it('defaults to OpenSSH\'s 10:30:100, a 60 s login grace and 8 per source', () => {
    const ssh = load('{}\n');
    assert.equal(ssh.maxStartups, '10:30:100');
    assert.equal(ssh.loginGraceSeconds, 60);
    assert.equal(ssh.perSourceMaxStartups, 8);
  });

  it('takes the YAML forms OpenSSH users write, unquoted, and BERTH_SSH_* variables', () => {
    assert.equal(load('ssh:\n  maxStartups: 3:50:9\n').maxStartups, '3:50:9');
    assert.equal(load('ssh:\n  maxStartups: 7\n').maxStartups, '7');
    const ssh = load('{}\n', { BERTH_SSH_MAX_STARTUPS: '20', BERTH_SSH_LOGIN_GRACE_SECONDS: '5', BERTH_SSH_PER_SOURCE_MAX_STARTUPS: '0' });
    assert.deepEqual([ssh.maxStartups, ssh.loginGraceSeconds, ssh.perSourceMaxStartups], ['20', 5, 0]);
  });

  for (const bad of ['"10:30"', '"100:30:10"', '[10, 30, 100]', 'true', '"10:130:100"']) {
    it(`refuses maxStartups: ${bad} with the form expected`, () => {
      assert.throws(
        () => load(`ssh:\n  maxStartups: ${bad}\n`),
        (err: unknown) => err instanceof ConfigError && err.problems.some((p) => /^ssh\.maxStartups: expected "start:rate:full" as OpenSSH writes MaxStartups/.test(p)),
      );
    });
  }
});

describe('StartupGate', () => {
  it('admits up to start, refuses everything at full, and frees a slot on release', () => {
    const gate = new StartupGate({ start: 2, rate: 100, full: 2 }, 0);
    const first = gate.admit('10.0.0.1');
    const second = gate.admit('10.0.0.2');
    assert.ok(first.admitted && second.admitted);
    assert.deepEqual(gate.admit('10.0.0.3'), { admitted: false, code: 'max_startups_full', unauthenticated: 2 });
    first.release();
    first.release();
    assert.equal(gate.unauthenticated, 1, 'releasing twice frees one slot');
    assert.ok(gate.admit('10.0.0.3').admitted);
  });

  it('drops at random between start and full with the probability rising from rate to 100 %', () => {
    // With random() fixed at r, a connection is dropped when r * 100 < rate + (100 - rate) * (n - start) / (full - start).
    const admittedUpTo = (r: number) => {
      const gate = new StartupGate({ start: 10, rate: 30, full: 100 }, 0, () => r);
      let n = 0;
      while (gate.admit(`10.0.${n >> 8}.${n & 255}`).admitted) n++;
      return n;
    };
    assert.equal(admittedUpTo(0), 10, 'a draw of 0 is always under rate: nothing past start');
    assert.equal(admittedUpTo(0.3), 11, 'rate 30 %: a draw of 0.3 passes at start, not past it');
    assert.equal(admittedUpTo(0.65), 56, '65 % is reached half way from start to full');
    assert.equal(admittedUpTo(0.999), 100, 'even the luckiest draw stops at full');
  });

  it('caps each source, IPv4 by address and IPv6 by /64, apart from the total', () => {
    const gate = new StartupGate({ start: 100, rate: 30, full: 100 }, 2);
    assert.ok(gate.admit('192.0.2.1').admitted);
    assert.ok(gate.admit('::ffff:192.0.2.1').admitted);
    assert.deepEqual(gate.admit('192.0.2.1'), { admitted: false, code: 'per_source_max_startups', unauthenticated: 2 });
    assert.ok(gate.admit('192.0.2.2').admitted, 'another IPv4 address is another source');
    assert.ok(gate.admit('2001:db8:1:2::1').admitted);
    assert.ok(gate.admit('2001:db8:1:2:ffff:ffff:ffff:ffff').admitted);
    assert.equal(gate.admit('2001:0db8:0001:0002:0:0:0:9').admitted, false, 'the same /64, written out');
    assert.ok(gate.admit('2001:db8:1:3::1').admitted, 'the next /64');
  });

  const sources: Array<[string, string]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:DB8::', '2001:db8:0:0::/64'],
    ['2001:db8:aa:bb:cc:dd:ee:ff', '2001:db8:aa:bb::/64'],
  ];
  for (const [address, source] of sources) {
    it(`takes ${address} as source ${source}`, () => assert.equal(sourceOf(address), source));
  }
});
