import type Docker from 'dockerode';
import type { Logger } from '../../log/logger.js';
import { DieEvents, EVERY_DEATH } from './dieEvents.js';
import { engineMessage, ignoreStatus } from './engineErrors.js';
import { ISOLATION_KEEPER, isolationKeeperNames, LABEL } from './names.js';
import { ensureKeeperNetwork, libpod, libpodFind, type OwnNetworkContext } from './ownNetworks.js';

/**
 * Puts back the firewall rule that keeps Podman's isolated networks apart.
 * netavark (1.4, Debian 12's, and the iptables driver of later ones) sends
 * FORWARD through its isolation chain with one rule shared by every isolated
 * network, and removes that rule whenever the last container of any of them
 * stops: one berth stopping lets all the others reach each other's ports
 * until an isolated network is set up again. Every set-up adds the rule back.
 *
 * So the runtime keeps two pods of its own (only Podman's pause process, no
 * image to pull) on an isolated network of its own, and after a berth's
 * container stops it disconnects the first pod from that network and
 * connects it again: the connect is a set-up, which puts the rule back, and
 * the disconnect removes nothing, as the second pod is still on the network.
 * Restores asked for while one runs are done once more after it, since the
 * stop they follow may have come after its connect.
 *
 * Any container's stop on the engine can take the rule with it, a berth's
 * of another gateway or a container that is no berth at all, so the keeper
 * follows every container's end on the engine, beside the restores the
 * runtime asks for right after its own stops.
 */
export class IsolationKeeper {
  private running: Promise<void> | null = null;
  private again = false;
  private readonly deaths: DieEvents;

  constructor(
    private readonly docker: Docker,
    private readonly ctx: OwnNetworkContext,
    private readonly logger: Logger,
  ) {
    // After the events stream was lost, something may have stopped unseen.
    this.deaths = new DieEvents(docker, logger, EVERY_DEATH, () => void this.restore(), () => void this.restore());
  }

  /** Stops following the engine's events; resolves once no restore runs, so a closing runtime leaves nothing half-made behind. */
  async close(): Promise<void> {
    this.deaths.close();
    await this.running;
  }

  /** Resolves once the rule is back (or could not be put back, which is logged); never rejects. */
  restore(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.restoreOnce().catch((err: unknown) => {
          this.logger.error(
            { err: engineMessage(err), pods: isolationKeeperNames(this.ctx.prefix).pods },
            "docker: could not put back Podman's isolation rule after a berth stopped, so berths may reach each other's ports until the next berth starts; check the engine's log (podman system service), and that the pod can be created",
          );
        });
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async restoreOnce(): Promise<void> {
    const names = isolationKeeperNames(this.ctx.prefix);
    const network = await ensureKeeperNetwork(this.docker, this.ctx, names.network);
    if (network === null) return;
    const [first, second] = names.pods;
    // One after the other: the first pod Podman makes builds its pause image.
    const pod = await this.ensurePod(first, network);
    const other = await this.ensurePod(second, network);
    // A pod just started had its set-up, which is all a restore is for.
    if (pod.started || other.started) return;
    // Another gateway of this prefix restoring at once disconnects or connects it first: its set-up counts as well.
    await libpod(this.docker, 'POST', `/networks/${encodeURIComponent(network)}/disconnect`, { Container: pod.container }).catch(unless(/not connected/));
    await libpod(this.docker, 'POST', `/networks/${encodeURIComponent(network)}/connect`, { container: pod.container }).catch(unless(/already connected/));
  }

  /** A keeper pod running (made if missing, by this or another gateway of the prefix): its pause container's id, and whether it was started just now. */
  private async ensurePod(name: string, network: string): Promise<{ container: string; started: boolean }> {
    let pod = await this.inspectPod(name);
    if (!pod) {
      await libpod(this.docker, 'POST', '/pods/create', {
        name,
        labels: { [LABEL.managed]: 'true', [LABEL.role]: ISOLATION_KEEPER },
        netns: { nsmode: 'bridge' },
        Networks: { [network]: {} },
      }).catch(ignoreStatus(409));
      pod = await this.inspectPod(name);
    }
    if (!pod) throw new Error(`pod ${name} vanished as it was made`);
    const started = pod.State !== 'Running';
    if (started) await libpod(this.docker, 'POST', `/pods/${encodeURIComponent(name)}/start`).catch(ignoreStatus(304));
    return { container: pod.InfraContainerID, started };
  }

  private inspectPod(name: string): Promise<{ State: string; InfraContainerID: string } | null> {
    return libpodFind(this.docker, `/pods/${encodeURIComponent(name)}/json`);
  }
}

function unless(expected: RegExp): (err: unknown) => void {
  return (err) => {
    if (!expected.test(engineMessage(err))) throw err;
  };
}
