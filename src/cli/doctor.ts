import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { appsDomainCheck } from './doctor/appsDomain.js';
import { dataDirCheck } from './doctor/dataDir.js';
import { imageCheck } from './doctor/image.js';
import { oidcCheck } from './doctor/oidc.js';
import { portsCheck } from './doctor/ports.js';
import { proxyTrustCheck } from './doctor/proxyTrust.js';
import { publicUrlCheck } from './doctor/publicUrl.js';
import { runtimeCheck } from './doctor/runtime.js';
import { fail, type Check, type CheckResult } from './doctor/types.js';

/** In the order an operator fixes things: the runtime before its image, the listener before what sits in front of it. */
const CHECKS: ReadonlyArray<[string, Check]> = [
  ['runtime', runtimeCheck],
  ['image', imageCheck],
  ['data-dir', dataDirCheck],
  ['ports', portsCheck],
  ['public-url', publicUrlCheck],
  ['apps-domain', appsDomainCheck],
  ['proxy-trust', proxyTrustCheck],
  ['oidc-provider', oidcCheck],
];

export interface DoctorReport {
  ok: boolean;
  config: string | null;
  checks: CheckResult[];
}

/** `berth doctor`: every check, one after another (each bounded in time); a check that throws is a failure, not a crash. */
export async function doctor({ config, file }: LoadedConfig): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  for (const [name, check] of CHECKS) checks.push(await runCheck(name, check, config));
  return { ok: checks.every((c) => c.status !== 'fail'), config: file, checks };
}

async function runCheck(name: string, check: Check, config: Config): Promise<CheckResult> {
  try {
    return await check(config);
  } catch (err) {
    return fail(name, `the check itself failed: ${(err as Error).message}`, 'report this with the output of berth doctor --json');
  }
}

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' } as const;

export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.check.length));
  const lines = [`berth doctor: ${report.config ?? 'defaults and environment'}`];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status]}  ${c.check.padEnd(width)}  ${c.message}`);
    if (c.fix) lines.push(`${' '.repeat(width + 8)}fix: ${c.fix}`);
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  lines.push(failed === 0 ? 'no problems found' : `${failed} problem${failed === 1 ? '' : 's'} found`);
  return `${lines.join('\n')}\n`;
}
