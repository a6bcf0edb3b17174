import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subnetPool } from '../../src/runtime/docker/subnetPool.js';

describe('the subnet pool of berths’ own networks', () => {
  it('cuts the pool into /29 blocks from its network address', () => {
    const pool = subnetPool('10.80.0.0/16');
    assert.equal(pool.blocks, 8192);
    assert.deepEqual([0, 1, 32, 8191].map((i) => pool.block(i)), ['10.80.0.0/29', '10.80.0.8/29', '10.80.1.0/29', '10.80.255.248/29']);
    assert.deepEqual([0, 1, 8191].map((i) => pool.gateway(i)), ['10.80.0.1', '10.80.0.9', '10.80.255.249']);
    // A pool written with host bits starts at its network all the same.
    assert.equal(subnetPool('10.80.0.77/24').block(0), '10.80.0.0/29');
    assert.equal(subnetPool('192.168.5.8/29').blocks, 1);
  });

  it('refuses what cannot hold a /29 or is not IPv4', () => {
    for (const bad of ['10.80.0.0/30', 'fd00::/64', 'not a cidr']) assert.throws(() => subnetPool(bad), /IPv4 CIDR of \/29 or wider/, bad);
  });

  it("tells a block's overlap with any subnet, wider, narrower or beside it", () => {
    const pool = subnetPool('10.80.0.0/16');
    const table: Array<[number, string, boolean]> = [
      [0, '10.80.0.0/29', true],
      [0, '10.80.0.4/30', true],
      [0, '10.0.0.0/8', true],
      [1, '10.80.0.0/29', false],
      [0, '10.80.0.8/29', false],
      [0, '10.89.0.0/24', false],
      [0, 'fd00::/64', false],
    ];
    for (const [index, subnet, overlaps] of table) assert.equal(pool.overlaps(index, subnet), overlaps, `${pool.block(index)} vs ${subnet}`);
  });

  it("counts every address in the pool as a berth's but each block's gateway, in either notation", () => {
    const pool = subnetPool('10.80.0.0/16');
    const table: Array<[string | undefined, boolean]> = [
      ['10.80.0.2', true],
      ['::ffff:10.80.0.2', true],
      ['10.80.3.10', true],
      ['10.80.0.1', false],
      ['10.80.3.9', false],
      ['::ffff:10.80.3.9', false],
      ['10.81.0.2', false],
      ['127.0.0.1', false],
      ['::1', false],
      ['', false],
      [undefined, false],
    ];
    for (const [address, berth] of table) assert.equal(pool.isBerthAddress(address), berth, String(address));
  });
});
