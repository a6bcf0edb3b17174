import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listeningPorts } from '../../src/runtime/procNet.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0BB8 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 112 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 113 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 114 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 115 1 0000000000000000 100 0 0 10 0
`;

describe('/proc/net/tcp parsing', () => {
  it('lists listening ports of tcp and tcp6 once each, sorted, skipping connections and headers', () => {
    assert.deepEqual(listeningPorts(TCP + TCP6), [80, 3000, 8080]);
  });
  it('keeps only sockets whose inode is given', () => {
    assert.deepEqual(listeningPorts(TCP + TCP6, { inodes: new Set(['111', '112', '114']) }), [80, 3000]);
  });
  it("skips Docker's embedded DNS on 127.0.0.11 when asked", () => {
    const dns = '   3: 0B00007F:8673 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 116 1 0000000000000000 100 0 0 10 0\n';
    assert.deepEqual(listeningPorts(TCP + dns), [3000, 8080, 34419]);
    assert.deepEqual(listeningPorts(TCP + dns, { skipContainerDns: true }), [3000, 8080]);
  });

  it('answers an empty list for empty or foreign text', () => {
    assert.deepEqual(listeningPorts(''), []);
    assert.deepEqual(listeningPorts('cat: /proc/net/tcp6: No such file or directory\n'), []);
  });
});
