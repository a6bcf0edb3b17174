import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AuditEvent } from '../../src/audit/kinds.js';
import { BerthError } from '../../src/core/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { AsciicastWriter, CAP_MARKER } from '../../src/terminal/asciicast.js';
import { RECORDED_NOTICE, Recordings } from '../../src/terminal/recordings.js';
import { ticketOf } from '../../src/http/terminal/tickets.js';
import { testConfig } from '../helpers/gatewayParts.js';

const HEADER = { user: 'alice', berth: 'alice', kind: 'ssh' as const, cols: 80, rows: 24, term: 'xterm' };
const logger = createLogger('silent');

function recordingsIn(overrides: Record<string, string> = {}) {
  const config = testConfig({ BERTH_RECORDING_ENABLED: 'true', ...overrides });
  const audited: AuditEvent[] = [];
  const recordings = new Recordings(config, logger, { record: (event) => audited.push(event) });
  return { config, recordings, audited };
}

async function closed(writer: AsciicastWriter | null): Promise<void> {
  writer?.close();
  // The write stream hands its lines to the file after close() returns.
  await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('asciicast writer', () => {
  it('writes a v2 header and one JSON line per event, keeping a character split across chunks whole', () => {
    const file = new PassThrough();
    const lines: string[] = [];
    file.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    let now = 1_000_000;
    const writer = new AsciicastWriter(file as never, { ...HEADER, gateway: 'g', startedAt: now }, 10_000, () => undefined, () => now);
    const euro = Buffer.from('€ok');
    now += 250;
    writer.output(euro.subarray(0, 1));
    writer.output(euro.subarray(1));
    now += 250;
    writer.resize(120, 40);
    const [header, ...events] = lines.map((line) => JSON.parse(line) as unknown);
    assert.deepEqual({ ...(header as object), berth: undefined }, { version: 2, width: 80, height: 24, timestamp: 1000, title: 'alice (ssh)', env: { TERM: 'xterm' }, berth: undefined });
    assert.deepEqual(events, [
      [0.25, 'o', '€ok'],
      [0.5, 'r', '120x40'],
    ]);
  });

  it('stops at maxBytes with one marker, calls back once, and ignores what comes after', () => {
    const file = new PassThrough();
    let text = '';
    file.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    let caps = 0;
    const writer = new AsciicastWriter(file as never, { ...HEADER, gateway: 'g', startedAt: 0 }, 2000, () => caps++, () => 0);
    for (let i = 0; i < 100; i++) writer.output(Buffer.from('x'.repeat(100)));
    writer.output(Buffer.from('after the cap'));
    const lines = text.trimEnd().split('\n');
    assert.deepEqual(JSON.parse(lines.at(-1) as string), [0, 'm', CAP_MARKER]);
    assert.equal(caps, 1);
    assert.ok(text.length < 2000 + 200, `${text.length} bytes`);
    assert.ok(!text.includes('after the cap'));
  });
});

describe('recordings', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('records nothing and says nothing when recording is off', async () => {
    const config = testConfig();
    dirs.push(config.dataDir);
    const start = await new Recordings(config, logger, { record: () => undefined }).start(HEADER);
    assert.deepEqual(start, { writer: null, notice: null });
  });

  it('lists a recording by its header, serves it to its id only, and audits its cap', async () => {
    const { config, recordings, audited } = recordingsIn({ BERTH_RECORDING_MAX_BYTES: '1024' });
    dirs.push(config.dataDir);
    const { writer, notice } = await recordings.start(HEADER);
    assert.equal(notice, RECORDED_NOTICE);
    writer?.output(Buffer.from('y'.repeat(2000)));
    await closed(writer);
    const [entry, ...rest] = await recordings.list(null);
    assert.equal(rest.length, 0);
    assert.equal(entry?.user, 'alice');
    assert.equal(entry?.kind, 'ssh');
    assert.deepEqual(await recordings.list('bob'), []);
    const found = await recordings.find(entry?.id ?? '');
    assert.ok(found);
    assert.match(readFileSync(found.path, 'utf8'), /"m"/);
    for (const id of ['../berth.db', `${entry?.id}/../x`, '', 'x'.repeat(30)]) assert.equal(await recordings.find(id), null, id);
    assert.deepEqual(
      audited.map((e) => [e.kind, e.actor, e.detail?.type]),
      [['recording.capped', 'alice', 'ssh']],
    );
  });

  it('best-effort runs a session unrecorded and says so when the directory cannot be made; strict refuses it', async () => {
    for (const failMode of ['best-effort', 'strict']) {
      const { config, recordings } = recordingsIn({ BERTH_RECORDING_FAIL_MODE: failMode });
      dirs.push(config.dataDir);
      mkdirSync(config.dataDir, { recursive: true });
      // A file where the directory should be: what a full or broken disk looks like to the gateway, even as root.
      writeFileSync(join(config.dataDir, 'recordings'), '');
      const started = recordings.start(HEADER);
      if (failMode === 'strict') {
        await assert.rejects(started, (err: unknown) => err instanceof BerthError && err.code === 'recording_unavailable' && /try again later/.test(err.userMessage));
      } else {
        assert.deepEqual(await started, { writer: null, notice: 'berth: this session should be recorded but cannot be; it runs unrecorded.' });
      }
    }
  });

  it('deletes recordings older than audit.retainDays and keeps the rest', async () => {
    const { config, recordings } = recordingsIn({ BERTH_AUDIT_RETAIN_DAYS: '7' });
    dirs.push(config.dataDir);
    const old = await recordings.start(HEADER);
    const fresh = await recordings.start({ ...HEADER, user: 'bob' });
    await closed(old.writer);
    await closed(fresh.writer);
    const [alice] = await recordings.list('alice');
    const oldPath = (await recordings.find(alice?.id ?? ''))?.path ?? '';
    const eightDaysAgo = (Date.now() - 8 * 24 * 3600 * 1000) / 1000;
    utimesSync(oldPath, eightDaysAgo, eightDaysAgo);
    assert.equal(await recordings.prune(), 1);
    assert.deepEqual((await recordings.list(null)).map((e) => e.user), ['bob']);
  });
});

describe('terminal ticket subprotocol', () => {
  it('finds the ticket among the offered subprotocols, and nothing where there is none', () => {
    assert.equal(ticketOf('berth.terminal, berth.ticket.abc-_9'), 'abc-_9');
    assert.equal(ticketOf('berth.ticket.first,berth.ticket.second'), 'first');
    for (const none of [undefined, '', 'berth.terminal', 'berth.tickets.x', 'x.berth.ticket.y']) assert.equal(ticketOf(none), '', String(none));
  });
});
