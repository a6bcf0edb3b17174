import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = resolve('.');

/*
 * Berth as a package: `npm pack` (which builds dist/ and its types through
 * `prepare`), the tarball unpacked into a new project's node_modules as npm
 * would, its dependencies linked from this checkout's (offline: no registry),
 * then a program of that project's own imports 'berth', runs an embedded
 * gateway with a berth, and stops it; and a TypeScript file of the project
 * type-checks against the package's declarations.
 */
describe('the packed package, embedded in a new project', () => {
  let project: string;

  before(async () => {
    project = mkdtempSync(join(tmpdir(), 'berth-packed-'));
    const packed = join(project, 'packed');
    mkdirSync(packed);
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', packed], { cwd: REPO, timeout: 300_000 });
    const tarball = join(packed, stdout.trim().split('\n').pop() as string);
    const modules = join(project, 'node_modules');
    mkdirSync(modules);
    await run('tar', ['xzf', tarball, '-C', modules]);
    renameSync(join(modules, 'package'), join(modules, 'berth'));
    for (const name of readdirSync(join(REPO, 'node_modules'))) {
      if (name === 'berth' || name.startsWith('.')) continue;
      symlinkSync(join(REPO, 'node_modules', name), join(modules, name));
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'host-program', private: true, type: 'module', dependencies: { berth: 'file:packed' } }));
  });
  after(() => rmSync(project, { recursive: true, force: true }));

  it('holds the built entry point, its types and the CLI, and no sources or tests', async () => {
    const files = (await run('find', ['node_modules/berth', '-type', 'f'], { cwd: project })).stdout.split('\n');
    for (const wanted of ['node_modules/berth/dist/index.js', 'node_modules/berth/dist/index.d.ts', 'node_modules/berth/bin/berth.js', 'node_modules/berth/package.json']) {
      assert.ok(files.includes(wanted), `${wanted} is in the package`);
    }
    assert.ok(!files.some((file) => /\/(src|test|bench)\//.test(file) || file.endsWith('.map')), 'no sources, tests, benches or source maps');
  });

  it('runs an embedded gateway: starting, running, a berth served, stopped within the grace time', { timeout: 120_000 }, async () => {
    writeFileSync(
      join(project, 'host.mjs'),
      `import { get } from 'node:http';
import { createBerth } from 'berth';
const lifecycle = [];
const berths = [];
const berth = createBerth({
  dataDir: './data',
  listen: { http: '127.0.0.1:0', ssh: null },
  log: { level: 'warn' },
  auth: { mode: 'header' },
  environment: { command: [process.execPath, '-e', "require('http').createServer((q,s)=>s.end('hello from '+process.env.BERTH_USER)).listen(+process.env.PORT,'127.0.0.1')"] },
});
for (const name of ['starting', 'running', 'stopping', 'stopped', 'failed']) berth.on(name, () => lifecycle.push(name));
berth.on('berth', ({ user, state }) => berths.push(user + ':' + state));
const { http } = await berth.start();
// As a script asks (fetch() would say it is a page's background request, which is not held for a start).
const { status, body } = await new Promise((resolve, reject) =>
  get({ host: '127.0.0.1', port: http.port, path: '/', headers: { 'X-Forwarded-Preferred-Username': 'alice' } }, (res) => {
    let body = '';
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => resolve({ status: res.statusCode, body }));
  }).on('error', reject),
);
const stopAt = Date.now();
await berth.stop({ graceSeconds: 5 });
console.log(JSON.stringify({ lifecycle, berths, status, body, stopMs: Date.now() - stopAt }));
`,
    );
    const { stdout } = await run(process.execPath, ['host.mjs'], { cwd: project, timeout: 90_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop() as string) as { lifecycle: string[]; berths: string[]; status: number; body: string; stopMs: number };
    assert.equal(result.status, 200);
    assert.equal(result.body, 'hello from alice');
    assert.deepEqual(result.lifecycle, ['starting', 'running', 'stopping', 'stopped']);
    assert.deepEqual(result.berths.slice(0, 2), ['alice:starting', 'alice:ready']);
    assert.ok(result.berths.includes('alice:stopped'), `the local berth stops with the gateway: ${result.berths.join(', ')}`);
    assert.ok(result.stopMs < 5000 + 3000, `stopped in ${result.stopMs} ms, within the grace time`);
  });

  it('type-checks a TypeScript host program against the package declarations, and rejects a wrong key', { timeout: 120_000 }, async () => {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'] }, include: ['*.ts'] }));
    writeFileSync(
      join(project, 'host.ts'),
      `import { createServer } from 'node:http';
import { createBerth, createAuthWebhookHandler, createConfigWebhookHandler, type BerthEvent } from 'berth';
const berth = createBerth({ listen: { http: '127.0.0.1:0', ssh: null }, log: { access: true } });
berth.on('berth', (event: BerthEvent) => console.log(event.user, event.state));
berth.on('running', ({ http }) => console.log(http.port));
createServer(createAuthWebhookHandler({ onPassword: ({ username, password }) => username === 'alice' && password.length > 0 }));
createServer(createConfigWebhookHandler(({ username }) => ({ config: { docker: { execution: { container: { image: username } } } } })));
export const stopped: Promise<void> = berth.start().then(() => berth.stop({ graceSeconds: 1 }));
`,
    );
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, timeout: 100_000 });
    writeFileSync(join(project, 'wrong.ts'), `import { createBerth } from 'berth';\ncreateBerth({ listen: { htp: '127.0.0.1:0' } });\n`);
    const wrong = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, timeout: 100_000 }).then(
      () => '',
      (err: { stdout: string }) => err.stdout,
    );
    assert.match(wrong, /wrong\.ts.*'htp'/, 'a misspelt key is a type error');
  });
});
