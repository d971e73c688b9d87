import { readFileSync } from 'node:fs';
import {
  type driverFaults,
  durationMs,
  type ErrorCode,
  isProtected,
  matchesSelector,
  type Selector,
  SimianError,
  type Target,
  type WireFault,
} from '@simian/protocol';
import Docker from 'dockerode';
import {
  applyNetworkFault,
  type NetworkFault,
  type NetworkSite,
  renewNetworkFault,
  revertNetworkFault,
} from '../../network/network-faults.js';
import {
  type AppliedFault,
  type ExecutorRegistry,
  executorFor,
  type FaultContext,
  type FaultExecutor,
  FaultRefusedError,
  hasErrorCode,
  noopExecutor,
  protectedError,
  type RevertOutcome,
  type TargetDriver,
  targetZone,
} from '../driver.js';
import { statusCodeOf, toDockerError } from './docker-errors.js';

export interface DockerDriverOptions {
  /** @default a client for DOCKER_HOST, or the default socket */
  docker?: Docker;
  /** How long `available()` waits for the Engine's ping. @default 3000 */
  pingTimeoutMs?: number;
}

/** A container as the target names it; revert gets only this. */
interface ContainerRef {
  docker: Docker;
  target: Target;
  container: Docker.Container;
  /** `name (short id)`, for messages. */
  what: string;
}

/** The same container, inspected just now: running and not protected. */
interface LiveContainer extends ContainerRef {
  info: Docker.ContainerInspectInfo;
}

/** Whether /proc/PID/cgroup names the container (cgroupfs `/docker/<id>`, systemd `docker-<id>.scope`). */
function pidBelongsTo(pid: number, containerId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(containerId);
  } catch {
    return false;
  }
}

/** Starts a container we stopped. Idempotent: a running container is left alone. */
async function startAgain(ref: ContainerRef): Promise<RevertOutcome> {
  const info = await inspectForRevert(ref);
  if (!info) return gone(ref);
  if (info.State.Running) return { outcome: 'nothing-to-revert', detail: `${ref.what} is running` };
  try {
    await ref.container.start();
  } catch (error) {
    if (statusCodeOf(error) === 304)
      return { outcome: 'nothing-to-revert', detail: `${ref.what} is running` };
    if (statusCodeOf(error) === 404) return gone(ref);
    throw toDockerError(error, {
      docker: ref.docker,
      action: `start ${ref.what}`,
      code: 'SIMIAN_REVERT_FAILED',
    });
  }
  return { outcome: 'reverted', detail: `started ${ref.what}` };
}

function pauseExecutor<T extends 'pause' | 'zone-outage'>(): FaultExecutor<LiveContainer, ContainerRef, T> {
  return {
    async apply(live) {
      if (live.info.State.Paused) {
        // Someone else paused it: pausing again would fail, and our revert would undo their pause.
        throw new FaultRefusedError('SIMIAN_INJECT_FAILED', `${live.what} is already paused`);
      }
      await call(live, `pause ${live.what}`, 'SIMIAN_INJECT_FAILED', () => live.container.pause());
      return { detail: `paused ${live.what}` };
    },
    async revert(ref) {
      const info = await inspectForRevert(ref);
      if (!info) return gone(ref);
      if (!info.State.Paused) return { outcome: 'nothing-to-revert', detail: `${ref.what} is not paused` };
      try {
        await ref.container.unpause();
      } catch (error) {
        if (statusCodeOf(error) === 404) return gone(ref);
        throw toDockerError(error, {
          docker: ref.docker,
          action: `unpause ${ref.what}`,
          code: 'SIMIAN_REVERT_FAILED',
        });
      }
      return { outcome: 'reverted', detail: `unpaused ${ref.what}` };
    },
  };
}

/** The container's IPv4 addresses on its networks. */
function addressesOf(networks: Record<string, { IPAddress?: string }> | undefined): string[] {
  return Object.values(networks ?? {})
    .map((network) => network.IPAddress ?? '')
    .filter((address) => address !== '');
}

/**
 * Where the container's network is. Entering it by the Engine's pid is only safe when that pid
 * sits in the container's cgroup, i.e. the agent shares the host's pid namespace.
 */
function siteOf(
  ref: ContainerRef,
  info: Docker.ContainerInspectInfo,
  failure: 'apply' | 'revert',
): NetworkSite {
  const pid = info.State.Pid;
  const address = addressesOf(info.NetworkSettings.Networks)[0];
  if (!Number.isInteger(pid) || pid <= 0 || !pidBelongsTo(pid, info.Id)) {
    const message = `cannot enter the network namespace of ${ref.what}: its main process (pid ${pid}) is not visible from the agent`;
    const hint =
      "network faults need the agent on the container's host, sharing its pid namespace (--pid=host)";
    throw failure === 'apply'
      ? new FaultRefusedError('SIMIAN_FAULT_UNSUPPORTED', message, { hint })
      : new SimianError('SIMIAN_REVERT_FAILED', message, { hint });
  }
  if (address === undefined) {
    throw new FaultRefusedError(
      'SIMIAN_FAULT_UNSUPPORTED',
      `${ref.what} has no IPv4 address (network mode ${info.HostConfig.NetworkMode})`,
    );
  }
  return { ns: { pid, what: ref.what }, localAddress: address, reachableAddress: address, shared: false };
}

/** Network faults act in the container's namespace; a container that stopped took its rules along. */
function networkExecutor<T extends NetworkFault['type']>(): FaultExecutor<LiveContainer, ContainerRef, T> {
  return {
    apply: (live, fault, context) => applyNetworkFault(siteOf(live, live.info, 'apply'), fault, context),
    revert: (ref, _fault, context) => revertInNamespace(ref, context),
    renew: (_ref, _fault, context) => renewNetworkFault(context),
  };
}

async function revertInNamespace(
  ref: ContainerRef,
  context: Pick<FaultContext, 'faultId'>,
): Promise<RevertOutcome> {
  const info = await inspectForRevert(ref);
  const running = info?.State.Running === true && info.State.Pid > 0;
  const site = info && running ? siteOf(ref, info, 'revert') : undefined;
  return revertNetworkFault(
    site,
    info ? `${ref.what} is not running` : `${ref.what} no longer exists`,
    context,
  );
}

const zonePause = pauseExecutor<'zone-outage'>();

const executors = {
  kill: {
    async apply(live, fault) {
      const pid = live.info.State.Pid;
      // Signalling pid 0 would hit the agent's own process group.
      if (!Number.isInteger(pid) || pid <= 0) {
        throw new FaultRefusedError(
          'SIMIAN_TARGET_NOT_FOUND',
          `${live.what} has no main process (pid ${pid})`,
        );
      }
      try {
        // The Engine's pid is only ours to signal when the agent shares its pid namespace (not so
        // with Docker Desktop, a remote DOCKER_HOST or an agent in a container): the pid must sit in
        // this container's cgroup, else it is some other process and we use the Engine API.
        if (!pidBelongsTo(pid, live.info.Id))
          throw Object.assign(new Error('not in the container cgroup'), { code: 'ENOTCONTAINER' });
        // A host signal looks like a crash to the Engine, so the container's restart policy applies;
        // the Engine's own kill marks the container as stopped on purpose and cancels that policy.
        process.kill(pid, fault.signal);
      } catch (error) {
        if (!hasErrorCode(error, 'ESRCH', 'EPERM', 'ENOTCONTAINER')) throw error;
        await call(live, `kill ${live.what}`, 'SIMIAN_INJECT_FAILED', () =>
          live.container.kill({ signal: fault.signal }),
        );
        const code = (error as { code: string }).code;
        return {
          detail:
            `${fault.signal} sent through the Engine API (pid ${pid} not reachable from the agent: ${code}); ` +
            'restart policy not honoured',
        };
      }
      const detail = `${fault.signal} sent from the host to pid ${pid}, the main process of ${live.what}`;
      if (!live.info.State.Paused) return { detail };
      // A frozen process acts on no signal, not even SIGKILL, until its cgroup is thawed.
      if (fault.signal !== 'SIGKILL')
        return { detail: `${detail}; it is paused, so the signal acts once resumed` };
      try {
        await live.container.unpause();
      } catch (error) {
        throw toDockerError(error, {
          docker: live.docker,
          action: `unpause ${live.what}`,
          code: 'SIMIAN_INJECT_FAILED',
        });
      }
      return { detail: `${detail}; unpaused it so that the signal takes effect` };
    },
    async revert() {
      return { outcome: 'nothing-to-revert' };
    },
  },
  stop: {
    async apply(live, fault) {
      const t = timeoutSeconds(fault.timeout);
      await call(live, `stop ${live.what}`, 'SIMIAN_INJECT_FAILED', () => live.container.stop({ t }));
      return { detail: `stopped ${live.what} (grace period ${t}s)` };
    },
    revert: startAgain,
  },
  pause: pauseExecutor(),
  restart: {
    async apply(live, fault) {
      const t = timeoutSeconds(fault.timeout);
      await call(live, `restart ${live.what}`, 'SIMIAN_INJECT_FAILED', () => live.container.restart({ t }));
      return { detail: `restarted ${live.what} (grace period ${t}s)` };
    },
    async revert() {
      return { outcome: 'nothing-to-revert' };
    },
  },
  latency: networkExecutor(),
  loss: networkExecutor(),
  bandwidth: networkExecutor(),
  reset: networkExecutor(),
  timeout: networkExecutor(),
  partition: networkExecutor(),
  'zone-outage': {
    async apply(live, fault, context) {
      switch (fault.mode) {
        case 'stop':
          // A power cut: no grace period. The Engine then sees a stop on purpose, so no restart
          // policy brings the container back before the revert does.
          await call(live, `stop ${live.what}`, 'SIMIAN_INJECT_FAILED', () => live.container.stop({ t: 0 }));
          return { detail: `zone ${fault.zone} lost: stopped ${live.what} at once` };
        case 'pause': {
          const applied = await zonePause.apply(live, fault, context);
          return { detail: `zone ${fault.zone} lost: ${applied.detail}` };
        }
        case 'isolate': {
          const applied = await applyNetworkFault(
            siteOf(live, live.info, 'apply'),
            { type: 'isolate' },
            context,
          );
          return { ...applied, detail: `zone ${fault.zone} lost: ${applied.detail}` };
        }
      }
    },
    async revert(ref, fault, context) {
      switch (fault.mode) {
        case 'stop':
          return startAgain(ref);
        case 'pause':
          return zonePause.revert(ref, fault, context);
        case 'isolate':
          return revertInNamespace(ref, context);
      }
    },
    async renew(_ref, fault, context) {
      if (fault.mode === 'isolate') await renewNetworkFault(context);
    },
  },
  noop: noopExecutor(),
} satisfies ExecutorRegistry<LiveContainer, ContainerRef, (typeof driverFaults)['docker'][number] | 'noop'>;

/** Containers on the local Docker Engine, through its API (dockerode). */
export class DockerDriver implements TargetDriver {
  readonly name = 'docker' as const;
  readonly #docker: Docker;
  readonly #pingTimeoutMs: number;

  constructor(options: DockerDriverOptions = {}) {
    this.#docker = options.docker ?? new Docker();
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 3_000;
  }

  async list(selector: Selector, agentName: string, agentZone?: string): Promise<Target[]> {
    const label = Object.entries(selector.labels).map(([key, value]) => `${key}=${value}`);
    let containers: Docker.ContainerInfo[];
    try {
      containers = await this.#docker.listContainers({
        filters: { status: ['running'], ...(label.length > 0 ? { label } : {}) },
      });
    } catch (error) {
      throw toDockerError(error, {
        docker: this.#docker,
        action: 'list containers',
        code: 'SIMIAN_DOCKER_UNAVAILABLE',
      });
    }
    const targets: Target[] = [];
    for (const container of containers) {
      const labels = container.Labels ?? {};
      if (isProtected(labels)) continue;
      const zone = targetZone(labels, agentZone);
      const addresses = addressesOf(container.NetworkSettings?.Networks);
      const target: Target = {
        driver: 'docker',
        id: container.Id,
        name: (container.Names[0] ?? container.Id.slice(0, 12)).replace(/^\//, ''),
        labels,
        ...(zone === undefined ? {} : { zone }),
        agent: agentName,
        ...(addresses.length > 0 ? { addresses } : {}),
      };
      if (matchesSelector(target, selector)) targets.push(target);
    }
    return targets.sort((a, b) => a.name.localeCompare(b.name));
  }

  async apply(target: Target, fault: WireFault, context: FaultContext): Promise<AppliedFault> {
    const executor = executorFor(executors, this.name, fault);
    const ref = this.#ref(target);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await ref.container.inspect();
    } catch (error) {
      throw toDockerError(error, {
        docker: this.#docker,
        action: `inspect ${ref.what}`,
        code: 'SIMIAN_INJECT_FAILED',
      });
    }
    // The labels in the request may be stale: only what the Engine says now counts.
    if (isProtected(info.Config.Labels ?? {})) throw protectedError(ref.what);
    // A restarting container reports Running with no main process yet.
    if (!info.State.Running || info.State.Restarting) {
      throw new FaultRefusedError(
        'SIMIAN_TARGET_NOT_FOUND',
        `${ref.what} is not running (${info.State.Status})`,
      );
    }
    return executor.apply({ ...ref, info }, fault, context);
  }

  async revert(
    target: Target,
    fault: WireFault,
    context: Pick<FaultContext, 'faultId'>,
  ): Promise<RevertOutcome> {
    const executor = executorFor(executors, this.name, fault);
    return executor.revert(this.#ref(target), fault, context);
  }

  async renew(target: Target, fault: WireFault, context: FaultContext): Promise<void> {
    await executorFor(executors, this.name, fault).renew?.(this.#ref(target), fault, context);
  }

  async available(): Promise<boolean> {
    try {
      // dockerode 5 takes an abortSignal on ping; @types/dockerode 4 does not declare the option.
      const ping = this.#docker.ping.bind(this.#docker) as unknown as (options: {
        abortSignal: AbortSignal;
      }) => Promise<unknown>;
      await ping({ abortSignal: AbortSignal.timeout(this.#pingTimeoutMs) });
      return true;
    } catch {
      return false;
    }
  }

  #ref(target: Target): ContainerRef {
    return {
      docker: this.#docker,
      target,
      container: this.#docker.getContainer(target.id),
      what: `container ${target.name} (${target.id.slice(0, 12)})`,
    };
  }
}

/** Runs one Engine call of an apply; a refusal the Engine answers with (4xx) changed nothing. */
async function call(
  live: ContainerRef,
  action: string,
  code: ErrorCode,
  run: () => Promise<unknown>,
): Promise<void> {
  try {
    await run();
  } catch (error) {
    const status = statusCodeOf(error);
    throw toDockerError(error, {
      docker: live.docker,
      action,
      code,
      refused: status !== undefined && status >= 400 && status < 500,
    });
  }
}

/** The container's current state for a revert, or undefined when it no longer exists. */
async function inspectForRevert(ref: ContainerRef): Promise<Docker.ContainerInspectInfo | undefined> {
  try {
    return await ref.container.inspect();
  } catch (error) {
    if (statusCodeOf(error) === 404) return undefined;
    throw toDockerError(error, {
      docker: ref.docker,
      action: `inspect ${ref.what}`,
      code: 'SIMIAN_REVERT_FAILED',
    });
  }
}

function gone(ref: ContainerRef): RevertOutcome {
  return { outcome: 'target-gone', detail: `${ref.what} no longer exists` };
}

/** The Engine takes whole seconds; round up so the target gets at least the grace period asked for. */
function timeoutSeconds(timeout: string): number {
  return Math.ceil(durationMs(timeout) / 1_000);
}
