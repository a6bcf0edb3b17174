// Runs in Chromium's own network namespace (started by `unshare --net`):
// brings its loopback up, carries every connection to 127.0.0.1:<port> to the
// harness's SOCKS server on a Unix socket (which, unlike a TCP port, is
// reachable across namespaces), then runs Chromium with the descriptors
// playwright gave it (3 and 4 carry the DevTools protocol) and ends with it.
// Plain JavaScript so it starts without a compiler.
import { spawn, spawnSync } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

const [socksSocket, port, chromium, ...args] = process.argv.slice(2);
const up = spawnSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'inherit' });
if (up.status !== 0) {
  console.error('relay: could not bring up loopback in the new network namespace (is iproute2 installed?)');
  process.exit(1);
}
const relay = createServer((browserSide) => {
  const hostSide = createConnection(socksSocket);
  const drop = () => {
    browserSide.destroy();
    hostSide.destroy();
  };
  for (const socket of [browserSide, hostSide]) socket.on('error', drop).on('close', drop);
  browserSide.pipe(hostSide).pipe(browserSide);
});
relay.listen(Number(port), '127.0.0.1', () => {
  const browser = spawn(chromium, args, { stdio: [0, 1, 2, 3, 4] });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => browser.kill(signal));
  browser.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
});
