import { spawnSync } from 'node:child_process';
import type { Config } from '../../../config/schema.js';
import { BerthError } from '../../../core/errors.js';
import type { Logger } from '../../../log/logger.js';
import { BWRAP_PROBE } from './bwrap.js';

export type SandboxKind = 'bwrap' | 'off';

const INSTALL_HINT = 'install bubblewrap (Debian and Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)';

/**
 * Whether bubblewrap can make a sandbox here: null when it can, else why
 * not. Run once at start: a missing binary, or a kernel or container that
 * forbids unprivileged user namespaces, both show here.
 */
export function probeBwrap(): string | null {
  const result = spawnSync('bwrap', BWRAP_PROBE, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000, encoding: 'utf8' });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'bwrap is not installed' : `bwrap did not run: ${result.error.message}`;
  }
  if (result.status === 0) return null;
  const said = result.stderr.trim().split('\n').at(-1) ?? '';
  return `bwrap cannot create namespaces here (exit ${result.status ?? result.signal}${said ? `: ${said}` : ''})`;
}

/**
 * runtime.local.sandbox made definite: `bwrap` must work, `auto` uses it
 * when it works and warns when it does not. Running unsandboxed with real
 * sign-in is refused unless runtime.local.allowUnsandboxed says the operator
 * accepts it; with dev sign-in anyone may be anyone anyway.
 */
export function chooseSandbox(config: Config, logger: Logger, probe: () => string | null = probeBwrap): SandboxKind {
  const wanted = config.runtime.local.sandbox;
  const problem = wanted === 'off' ? null : probe();
  if (wanted === 'bwrap' && problem !== null) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: `runtime.local.sandbox is "bwrap" but ${problem}: ${INSTALL_HINT} and check that unprivileged user namespaces are allowed (sysctl kernel.unprivileged_userns_clone=1, or user.max_user_namespaces above 0), or set runtime.local.sandbox to "auto" or "off".`,
    });
  }
  const kind: SandboxKind = wanted === 'off' || problem !== null ? 'off' : 'bwrap';
  if (kind === 'bwrap') return kind;
  if (config.auth.mode !== 'dev' && !config.runtime.local.allowUnsandboxed) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage:
        `Local berths would run without a sandbox${problem === null ? ' (runtime.local.sandbox is "off")' : ` (${problem})`}: ` +
        `any signed-in user's berth could then read the gateway's data directory (its session key, so sign in as anyone, admins included), ` +
        `read and change every other user's home, and connect to every other berth's ports. ` +
        `To fix: ${INSTALL_HINT} and set runtime.local.sandbox to "auto" or "bwrap"; or use runtime.kind "docker"; ` +
        `or, to accept this, set runtime.local.allowUnsandboxed: true.`,
    });
  }
  if (wanted === 'auto') {
    logger.warn(
      { reason: problem },
      `local berths run without a sandbox: ${problem}; each berth can read dataDir and the other homes. To sandbox them, ${INSTALL_HINT}.`,
    );
  }
  return kind;
}
