import cluster from 'node:cluster';
import type { Config } from '../../config/schema.js';
import { asBerthError } from '../../core/errors.js';
import type { DataDirHealth } from '../../store/dataDir.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Runtime } from '../../runtime/types.js';
import { adminScript } from '../assets/admin.js';
import { commonScript } from '../assets/common.js';
import { dashboardScript } from '../assets/dashboard.js';
import { loadingScript } from '../assets/loading.js';
import { recordingsScript } from '../assets/recordings.js';
import { stylesheet } from '../assets/style.js';
import { terminalScript, terminalStylesheet } from '../assets/terminal.js';
import { vendorAssets } from '../assets/vendor.js';
import { sendJson } from '../respond.js';
import { metricsAccess } from './metricsAccess.js';
import type { Route } from '../routes.js';

/**
 * Health, metrics and static assets: answered without signing in (metrics
 * only to metrics.allowFrom). Health is 503 "unavailable" when the runtime
 * does not answer, 503 "degraded" when only the data directory cannot be
 * written or the store does not answer (ready berths are still served;
 * sign-ins and changes that save fail).
 */
export function operationsRoutes(config: Config, runtime: Runtime, metrics: Metrics, dataDir: DataDirHealth, storeProblem: () => Promise<string | null>): Route[] {
  const metricsRefusal = metricsAccess(config.metrics.allowFrom);
  // Under `berth serve --workers N`, which of them answered: a probe (or a test) can tell the workers apart.
  const worker = cluster.worker === undefined ? {} : { worker: { id: cluster.worker.id, pid: process.pid } };
  return [
    {
      method: 'GET',
      path: '/_berth/healthz',
      access: 'public',
      handler: async ({ res }) => {
        const [runtimeProblem, disk, store] = await Promise.all([
          runtime.health().then(
            () => null,
            (err: unknown) => asBerthError(err, 'runtime_unavailable').userMessage,
          ),
          dataDir.check(),
          storeProblem(),
        ]);
        if (runtimeProblem === null && disk === null && store === null) {
          sendJson(res, 200, { status: 'ok', runtime: runtime.kind, ...worker });
          return;
        }
        const diskReason = disk === null ? null : `The data directory ${disk.path} cannot be written (${disk.error}); free space there or fix its permissions.`;
        sendJson(res, 503, {
          status: runtimeProblem === null ? 'degraded' : 'unavailable',
          runtime: runtime.kind,
          ...worker,
          reason: [runtimeProblem, diskReason, store].filter((r) => r !== null).join(' '),
          ...(disk === null ? {} : { dataDir: disk }),
          // The store kind, as readyz names it, when the store is (part of) the problem; the reason says what.
          ...(store === null ? {} : { store: config.store.kind }),
        });
      },
    },
    {
      method: 'GET',
      path: '/_berth/metrics',
      access: 'public',
      handler: async ({ req, res }) => {
        const refused = metricsRefusal(req);
        if (refused) throw refused;
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(text);
      },
    },
    asset('/_berth/assets/berth.css', 'text/css; charset=utf-8', stylesheet),
    asset('/_berth/assets/common.js', 'text/javascript; charset=utf-8', commonScript),
    asset('/_berth/assets/loading.js', 'text/javascript; charset=utf-8', loadingScript),
    asset('/_berth/assets/dashboard.js', 'text/javascript; charset=utf-8', dashboardScript),
    asset('/_berth/assets/admin.js', 'text/javascript; charset=utf-8', adminScript),
    asset('/_berth/assets/terminal.js', 'text/javascript; charset=utf-8', terminalScript),
    asset('/_berth/assets/terminal.css', 'text/css; charset=utf-8', terminalStylesheet),
    asset('/_berth/assets/recordings.js', 'text/javascript; charset=utf-8', recordingsScript),
    ...vendorAssets().map(({ path, type, body }) => asset(path, type, body)),
  ];
}

function asset(path: string, type: string, body: string | Buffer): Route {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return {
    method: 'GET',
    path,
    access: 'public',
    handler: ({ res }) => {
      res.writeHead(200, {
        'content-type': type,
        'content-length': bytes.length,
        'cache-control': 'public, max-age=300',
        'x-content-type-options': 'nosniff',
      });
      res.end(bytes);
    },
  };
}
