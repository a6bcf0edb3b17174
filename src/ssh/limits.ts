import { BerthError } from '../core/errors.js';

/** An open session as the limits see it: something to end, saying why. */
export interface SessionHandle {
  /** Tells the person why (one line on stderr), then hangs up what runs, so the session closes in order. */
  end(notice: string): void;
  /** The berth stopped under the session, which therefore ends: it should say why. */
  berthStopped(why: string): void;
}

/**
 * Open sessions of every connection, by user: enforces
 * ssh.maxSessionsPerUser (0: no limit) and tells a user's sessions when their
 * berth stops.
 */
export class SessionRegistry {
  private readonly byUser = new Map<string, Set<SessionHandle>>();

  constructor(private readonly maxPerUser: number) {}

  /** Registers the session, or throws when the user has the most allowed; returns the release. */
  admit(user: string, handle: SessionHandle): () => void {
    const open = this.byUser.get(user) ?? new Set<SessionHandle>();
    if (this.maxPerUser > 0 && open.size >= this.maxPerUser) {
      throw new BerthError({
        code: 'forbidden',
        userMessage: `you already have ${open.size} SSH sessions open, the most allowed; close one and retry.`,
        logMessage: `ssh session of ${user} refused: ${open.size} open, ssh.maxSessionsPerUser is ${this.maxPerUser}`,
      });
    }
    open.add(handle);
    this.byUser.set(user, open);
    return () => {
      open.delete(handle);
      if (open.size === 0 && this.byUser.get(user) === open) this.byUser.delete(user);
    };
  }

  berthStopped(user: string, why: string): void {
    for (const handle of this.byUser.get(user) ?? []) handle.berthStopped(why);
  }
}

/** What channels tell the connection's idle clock. */
export interface IdleClock {
  /** Bytes moved on some channel: the idle clock starts again. */
  activity(): void;
  /** Waiting on the gateway (a berth starting) is not idleness: the idle clock holds until `work` settles. */
  busy<T>(work: Promise<T>): Promise<T>;
}

export interface ConnectionTimers extends IdleClock {
  stop(): void;
}

/**
 * The two clocks of a connection: no bytes on any channel for idleSeconds,
 * or open for maxSeconds (0 turns either off). Keepalives are no activity, so
 * a forgotten terminal does not hold a berth forever.
 */
export function connectionTimers(options: {
  idleSeconds: number;
  maxSeconds: number;
  onIdle: () => void;
  onMaxLength: () => void;
}): ConnectionTimers {
  let stopped = false;
  let waiting = 0;
  const stop = () => {
    stopped = true;
    if (idle) clearTimeout(idle);
    if (max) clearTimeout(max);
  };
  const onIdle = () => {
    if (waiting > 0) {
      idle?.refresh();
      return;
    }
    stop();
    options.onIdle();
  };
  const onMaxLength = () => {
    stop();
    options.onMaxLength();
  };
  const idle = options.idleSeconds > 0 ? setTimeout(onIdle, options.idleSeconds * 1000).unref() : null;
  const max = options.maxSeconds > 0 ? setTimeout(onMaxLength, options.maxSeconds * 1000).unref() : null;
  // refresh() would re-arm a timer that has fired or been cleared.
  const activity = () => {
    if (!stopped) idle?.refresh();
  };
  return {
    activity,
    busy: async (work) => {
      waiting++;
      try {
        return await work;
      } finally {
        waiting--;
        activity();
      }
    },
    stop,
  };
}
