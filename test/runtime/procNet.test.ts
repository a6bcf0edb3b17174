import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listeners, listeningPorts } from '../../src/runtime/procNet.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0BB8 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 112 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 113 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 114 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 115 1 0000000000000000 100 0 0 10 0
`;

const ports = (list: ReturnType<typeof listeningPorts>) => list.map((l) => l.port);

/** A listening line of /proc/net/tcp or tcp6 for a kernel-format address and port. */
function line(address: string, port: number, inode = 200): string {
  const local = `${address}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return `   9: ${local} ${'0'.repeat(address.length)}:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;
}

describe('/proc/net/tcp parsing', () => {
  it('lists listening ports of tcp and tcp6 once each, sorted, skipping connections and headers', () => {
    assert.deepEqual(ports(listeningPorts(TCP + TCP6)), [80, 3000, 8080]);
  });
  it('keeps only sockets whose inode is given', () => {
    assert.deepEqual(ports(listeningPorts(TCP + TCP6, { inodes: new Set(['111', '112', '114']) })), [80, 3000]);
  });
  it("skips Docker's embedded DNS on 127.0.0.11 when asked", () => {
    const dns = '   3: 0B00007F:8673 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 116 1 0000000000000000 100 0 0 10 0\n';
    assert.deepEqual(ports(listeningPorts(TCP + dns)), [3000, 8080, 34419]);
    assert.deepEqual(ports(listeningPorts(TCP + dns, { skipContainerDns: true })), [3000, 8080]);
  });

  it('marks a port loopback-only when every listener on it is bound to a loopback address', () => {
    assert.deepEqual(listeningPorts(TCP + TCP6), [
      { port: 80, loopbackOnly: false },
      { port: 3000, loopbackOnly: true },
      { port: 8080, loopbackOnly: false },
    ]);
    const v6Loopback = line('00000000000000000000000001000000', 5173);
    const mappedLoopback = line('0000000000000000FFFF00000100007F', 8888);
    const both = line('0100007F', 9000) + line('00000000000000000000000000000000', 9000);
    const otherLoopback = line('0200007F', 7000);
    assert.deepEqual(listeningPorts(v6Loopback + mappedLoopback + both + otherLoopback), [
      { port: 5173, loopbackOnly: true },
      { port: 7000, loopbackOnly: true },
      { port: 8888, loopbackOnly: true },
      { port: 9000, loopbackOnly: false },
    ]);
  });

  it('reads each listener at the address it is bound to', () => {
    const text =
      TCP +
      TCP6 +
      line('0200007F', 4000) +
      line('0100A8C0', 4001) +
      line('00000000000000000000000001000000', 4002) +
      line('0000000000000000FFFF00000200A8C0', 4003) +
      line('000080FE00000000FF500002FEB7E5FE', 4004);
    assert.deepEqual(
      listeners(text).map((l) => `${l.address} ${l.port}`),
      [
        '127.0.0.1 3000',
        '0.0.0.0 8080',
        ':: 80',
        ':: 8080',
        '127.0.0.2 4000',
        '192.168.0.1 4001',
        '::1 4002',
        '::ffff:192.168.0.2 4003',
        'fe80::200:50ff:fee5:b7fe 4004',
      ],
    );
  });

  it('skips lines whose address is not one the kernel writes', () => {
    assert.deepEqual(listeners(line('7F00', 80) + line('ZZ00007F', 81) + line('0100007F', 82)), [{ address: '127.0.0.1', port: 82 }]);
  });

  it('answers an empty list for empty or foreign text', () => {
    assert.deepEqual(listeningPorts(''), []);
    assert.deepEqual(listeningPorts('cat: /proc/net/tcp6: No such file or directory\n'), []);
  });
});
