import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from '../../log/logger.js';
import { jsonLines } from './jsonLines.js';
import { LABEL } from './names.js';

export interface DieEvent {
  id: string;
  /** The engine's word: "die" (Podman 4: "died"), or for watches that follow removals too "destroy" (Podman: "remove"). */
  action: string;
  /** The container's name, without the leading slash. */
  containerName: string;
  /** The berth's safe name, from the container's labels. */
  name: string;
  exitCode: number | null;
  /** Engine time of the event, ms since the epoch. */
  at: number;
}

/** Which containers' ends to follow, and how a container's labels name its berth. */
export interface EventWatch {
  /** Label filters ("key" or "key=value"), all of which a container carries; none for every container. */
  labels: string[];
  actions: string[];
  /** The berth's safe name from the event's attributes (the container's labels among them), or null for none. */
  nameOf(attributes: Record<string, string>): string | null;
}

/** The docker runtime's own containers (berth.managed=true), named by their berth.name label. */
export const MANAGED_DEATHS: EventWatch = {
  labels: [`${LABEL.managed}=true`],
  // Podman (4.x) filters by its own name for the event, "died", while it reports it as "die".
  actions: ['die', 'died'],
  nameOf: (attributes) => attributes[LABEL.name] || null,
};

/** Every container's end on the engine, Berth's or not, named by its container name. */
export const EVERY_DEATH: EventWatch = {
  labels: [],
  actions: MANAGED_DEATHS.actions,
  nameOf: (attributes) => attributes.name || null,
};

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

/**
 * Follows the engine's "die" events (and others the watch names) for the
 * containers the watch picks. The stream ends
 * whenever the engine restarts or the connection drops; it is then opened
 * again with exponential back-off, and `onResubscribed` lets the runtime
 * catch up on exits it may have missed in between (events are not replayed
 * across an engine restart).
 */
export class DieEvents {
  private closed = false;
  private stream: Readable | null = null;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly docker: Docker,
    private readonly logger: Logger,
    private readonly watch: EventWatch,
    private readonly onDie: (event: DieEvent) => void,
    private readonly onResubscribed: () => void,
  ) {
    void this.follow();
  }

  close(): void {
    this.closed = true;
    this.stream?.destroy();
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  private async follow(): Promise<void> {
    let failures = 0;
    let subscribed = false;
    while (!this.closed) {
      let error: string | undefined;
      try {
        const stream = (await this.docker.getEvents({
          filters: { type: ['container'], event: this.watch.actions, ...(this.watch.labels.length > 0 ? { label: this.watch.labels } : {}) },
        })) as Readable;
        if (this.closed) {
          stream.destroy();
          break;
        }
        this.stream = stream;
        // A watch serves a runtime, which its owner keeps alive (or closes): it never holds the process open by itself.
        (stream as Partial<IncomingMessage>).socket?.unref();
        if (subscribed) this.onResubscribed();
        subscribed = true;
        failures = 0;
        for await (const event of jsonLines(stream)) {
          const die = dieEvent(event, this.watch);
          if (die) this.onDie(die);
        }
      } catch (err) {
        error = (err as Error).message;
      }
      this.stream = null;
      if (this.closed) break;
      // Once per outage, not once per retry.
      if (failures === 0) this.logger.warn({ err: error }, 'docker events stream lost; re-subscribing');
      await this.sleep(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures++));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
      this.timer.unref();
    });
  }
}

function dieEvent(event: Record<string, unknown>, watch: EventWatch): DieEvent | null {
  const actor = event.Actor as { ID?: unknown; Attributes?: Record<string, string> } | undefined;
  const attributes = actor?.Attributes ?? {};
  const name = watch.nameOf(attributes);
  const action = event.Action ?? event.status;
  if (typeof actor?.ID !== 'string' || !name || typeof action !== 'string') return null;
  const exitCode = Number.parseInt(attributes.exitCode ?? '', 10);
  const at = typeof event.timeNano === 'number' ? event.timeNano / 1e6 : Number(event.time) * 1000;
  return { id: actor.ID, action, containerName: attributes.name ?? '', name, exitCode: Number.isNaN(exitCode) ? null : exitCode, at };
}
