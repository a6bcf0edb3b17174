import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import type WebSocket from 'ws';
import type { Logger } from '../../log/logger.js';
import { MARKER, SIGNAL_SCRIPT } from '../docker/exec.js';
import { SET_SIZE_LINE, sizedOutput } from '../terminalSize.js';
import type { ExecOptions, ExecProcess } from '../types.js';
import { frame, openChannelSocket } from './channelSocket.js';

export interface PodTarget {
  namespace: string;
  pod: string;
  container: string;
}

const V5 = 'v5.channel.k8s.io';
const V4 = 'v4.channel.k8s.io';
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const RESIZE = 4;
const CLOSE = 255;

/**
 * Kubernetes' exec takes no environment, working directory or terminal size,
 * so the command runs through `env` and a shell line that goes to the home
 * and sets the size before it becomes the command (see SET_SIZE_LINE). The
 * marker lets signal() find the process, as on Docker: the API has no way to
 * signal an exec.
 */
const WRAP = `cd "$HOME" 2>/dev/null; [ "$1" = - ] || { ${SET_SIZE_LINE}; }; shift 2; exec "$@"`;

let warnedV4 = false;

/**
 * Runs `command` in the pod through the API's exec over WebSocket,
 * preferring v5.channel.k8s.io (it can close stdin, so `cat`, sftp and
 * `tar xf -` see their end of input) and falling back to v4. The exit code
 * comes from the status channel. A connection that drops before the status
 * arrives kills the command in the pod (HUP, as a terminal hang-up), so
 * nothing is left running.
 */
export async function startPodExec(kc: KubeConfig, target: PodTarget, command: string[], options: ExecOptions, logger: Logger): Promise<ExecProcess> {
  const marker = randomBytes(9).toString('hex');
  const { tty } = options;
  const env = { ...(tty ? { TERM: tty.term } : {}), ...options.env, [MARKER]: marker };
  const argv = ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'sh', '-c', WRAP, 'berth-exec', tty ? String(dimension(tty.rows)) : '-', tty ? String(dimension(tty.cols)) : '-', ...command];
  const ws = await openChannelSocket(kc, execPath(target, argv, tty !== null), [V5, V4]);
  const closable = ws.protocol === V5;
  if (!closable && !warnedV4) {
    warnedV4 = true;
    logger.warn({ protocol: ws.protocol }, 'kubernetes: the API server has no v5.channel.k8s.io exec; end of input cannot be sent, so sftp, scp and `cat > file` over SSH will not finish');
  }

  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (tty) stderr.end();
  // On a tty the wrapper says when it has set the size; input and resizes wait for that, in the order given.
  const wrapper = tty ? sizedOutput() : null;
  const output = wrapper ? wrapper.output : stdout;
  wrapper?.output.pipe(stdout);
  const whenSized = (then: () => void) => (wrapper ? void wrapper.sized.then(then) : then());
  let status: { status?: string; reason?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } } | null = null;
  ws.on('message', (data: Buffer) => {
    const channel = data[0];
    const payload = data.subarray(1);
    if (channel === STDOUT) output.write(payload);
    else if (channel === STDERR) stderr.write(payload);
    else if (channel === STATUS) status = JSON.parse(payload.toString('utf8')) as typeof status;
    else if (channel === CLOSE && payload[0] === STDOUT) output.end();
    else if (channel === CLOSE && payload[0] === STDERR) stderr.end();
  });
  ws.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    ws.once('close', () => {
      output.end();
      stderr.end();
      if (!status) {
        void signalInPod(kc, target, marker, 'HUP').catch(() => undefined);
        return resolve({ code: null, signal: null });
      }
      resolve({ code: exitCode(status), signal: null });
    });
  });

  const open = () => ws.readyState === ws.OPEN;
  const stdin = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      whenSized(() => {
        if (!open()) return callback();
        ws.send(frame(STDIN, chunk), () => callback());
      });
    },
    final(callback) {
      whenSized(() => {
        if (!open()) return callback();
        // A terminal has no half-close: it types the EOF character. v4 has neither.
        if (tty) ws.send(frame(STDIN, '\x04'), () => callback());
        else if (closable) ws.send(Buffer.from([CLOSE, STDIN]), () => callback());
        else callback();
      });
    },
  });

  return {
    stdin,
    stdout,
    stderr,
    resize: (rows, cols) => {
      if (!tty) return;
      whenSized(() => {
        if (open()) ws.send(frame(RESIZE, JSON.stringify({ Width: dimension(cols), Height: dimension(rows) })));
      });
    },
    signal: (name) => {
      if ((constants.signals as Record<string, number | undefined>)[`SIG${name}`] === undefined) return;
      void signalInPod(kc, target, marker, name).catch(() => undefined);
    },
    exited,
  };
}

function execPath(target: PodTarget, argv: string[], tty: boolean): string {
  const query = new URLSearchParams();
  for (const arg of argv) query.append('command', arg);
  query.set('container', target.container);
  query.set('stdin', 'true');
  query.set('stdout', 'true');
  query.set('stderr', String(!tty));
  query.set('tty', String(tty));
  return `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.pod)}/exec?${query}`;
}

/** Success is 0; a non-zero exit names its code in details.causes; anything else (the container went) is unknown. */
function exitCode(status: { status?: string; reason?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } }): number | null {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  return cause?.message !== undefined && /^\d+$/.test(cause.message) ? Number(cause.message) : null;
}

/** Another exec that delivers the signal to the process carrying the marker. */
async function signalInPod(kc: KubeConfig, target: PodTarget, marker: string, name: string): Promise<void> {
  const ws: WebSocket = await openChannelSocket(kc, execPath(target, ['sh', '-c', SIGNAL_SCRIPT, 'berth-signal', name, marker], false), [V5, V4]);
  ws.on('error', () => undefined);
  ws.on('message', () => undefined);
  if (ws.protocol === V5) ws.send(Buffer.from([CLOSE, STDIN]));
}

function dimension(n: number): number {
  return Math.max(1, Math.min(1000, Math.floor(n)));
}
