import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pty from 'node-pty';
import { createLogger } from '../../src/log/logger.js';
import { prettyLine } from '../../src/log/pretty.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { CLI } from '../helpers/serve.js';

const ESC = '\u001b[';

/** `berth serve` until it says it is serving, then SIGTERM until it says stopped; what it printed. */
async function serveOutput(env: Record<string, string>, terminal: boolean): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'b19-log-'));
  const fullEnv = { ...process.env, BERTH_DATA_DIR: dataDir, BERTH_LISTEN_HTTP: `127.0.0.1:${await freeLoopbackPort()}`, BERTH_LISTEN_SSH: 'null', ...env } as Record<string, string>;
  let output = '';
  // One SIGTERM: a second one, after the first is handled, ends the gateway at once (as it should).
  let stopped = false;
  const stopOnce = (stop: () => void) => {
    if (stopped || !/is serving/.test(output)) return;
    stopped = true;
    stop();
  };
  try {
    if (terminal) {
      const term = pty.spawn(process.execPath, [...CLI, 'serve'], { env: fullEnv, cwd: process.cwd(), cols: 200, rows: 40 });
      const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
      term.onData((data) => {
        output += data;
        stopOnce(() => term.kill('SIGTERM'));
      });
      assert.equal(await exited, 0, output);
    } else {
      const child = spawn(process.execPath, [...CLI, 'serve'], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        stopOnce(() => child.kill('SIGTERM'));
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 0, output);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return output;
}

describe('log.format', () => {
  it('unset, a terminal gets one coloured, readable line per event', async () => {
    const out = await serveOutput({}, true);
    const lines = out.split(/\r?\n/).filter((l) => l.trim() !== '');
    const serving = lines.find((l) => l.includes('is serving'));
    assert.ok(serving, out);
    assert.ok(serving.includes(`${ESC}32mINFO`), `the level is coloured: ${JSON.stringify(serving)}`);
    const plain = serving.replace(/\u001b\[[0-9;]*m/g, '');
    assert.match(plain, /^\d\d:\d\d:\d\d\.\d{3} INFO  Berth \d+\.\d+\.\d+ is serving http:\/\/127\.0\.0\.1:8000 version=\S+ http=127\.0\.0\.1:\d+ ssh=null /);
    assert.ok(lines.every((l) => !l.trimStart().startsWith('{')), `no JSON on a terminal:\n${out}`);
    assert.ok(lines.some((l) => / INFO .*stopped/.test(l.replace(/\u001b\[[0-9;]*m/g, ''))), out);
  });

  it('unset, a pipe gets JSON lines', async () => {
    const out = await serveOutput({}, false);
    const events = out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { msg: string; level: number });
    assert.ok(events.some((e) => /is serving/.test(e.msg) && e.level === 30), out);
    assert.ok(!out.includes(ESC));
  });

  it('json on a terminal stays JSON; pretty on a pipe is readable without colour codes', async () => {
    const onTerminal = await serveOutput({ BERTH_LOG_FORMAT: 'json' }, true);
    const serving = onTerminal.split(/\r?\n/).find((l) => l.includes('is serving')) ?? '';
    assert.equal((JSON.parse(serving) as { level: number }).level, 30);
    const onPipe = await serveOutput({ BERTH_LOG_FORMAT: 'pretty' }, false);
    assert.match(onPipe, /^\d\d:\d\d:\d\d\.\d{3} INFO  Berth .* is serving /m);
    assert.ok(!onPipe.includes(ESC), 'no colour codes where no terminal reads them');
  });

  it('pretty lines keep secrets censored, errors on the same line, and one line for a multi-line message', () => {
    const lines: string[] = [];
    const sink = { write: (line: string) => lines.push(line) > 0, isTTY: false } as unknown as NodeJS.WritableStream;
    const logger = createLogger('info', sink, 'pretty');
    logger.child({ component: 'auth' }).warn({ token: 'berth_s3cr3t', user: 'ålice', err: new TypeError('bad\nthing') }, 'refused\nrequest');
    assert.equal(lines.length, 1);
    const line = lines[0] as string;
    assert.equal(line.split('\n').length, 2, 'one line, ending in a newline');
    assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} WARN  auth: refused\\nrequest err="TypeError: bad\\nthing" token=\[redacted\] user=ålice\n$/);
    assert.ok(!line.includes('s3cr3t'));
  });

  it('a line that is not JSON passes through as it is', () => {
    assert.equal(prettyLine('not json at all\n'), 'not json at all');
  });
});
