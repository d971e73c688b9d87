import {
  type driverFaults,
  isProtected,
  matchesSelector,
  type Selector,
  SimianError,
  type Target,
  type WireFault,
} from '@simian/protocol';
import {
  applyNetworkFault,
  isNetworkFault,
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
import {
  formatProcessId,
  LABELS_ENV,
  listPids,
  NAME_LABEL,
  type ProcStat,
  parseProcessId,
  readProcessLabels,
  readProcStat,
} from './proc.js';

/** A process as the target id names it; revert gets only this. */
interface ProcessRef {
  target: Target;
  pid: number;
  startTime: string;
}

/** The same process, checked alive and unprotected just now. */
interface LiveProcess extends ProcessRef {
  stat: ProcStat;
  labels: Record<string, string>;
}

const LIST_BATCH = 64;

const pause: FaultExecutor<LiveProcess, ProcessRef, 'pause'> = {
  async apply(proc) {
    // Someone else stopped it (job control, a debugger, another run): our revert would resume it
    // behind their back, so refuse rather than share the stop.
    if (proc.stat.state === 'T' || proc.stat.state === 't') {
      throw new FaultRefusedError(
        'SIMIAN_INJECT_FAILED',
        `process ${proc.target.id} (${proc.target.name}) is already stopped`,
      );
    }
    sendSignal(proc, 'SIGSTOP');
    // SIGSTOP lands when the kernel next schedules the process; wait (bounded) until it shows
    // as stopped, so the fault is in effect when we say so.
    const stopped = await waitForStopped(proc.pid, STOP_CONFIRM_MS);
    return {
      detail: `SIGSTOP sent to pid ${proc.pid}${stopped ? '' : ` (not shown as stopped within ${STOP_CONFIRM_MS}ms)`}`,
    };
  },
  async revert(ref) {
    const stat = await readProcStat(ref.pid);
    if (!isSameProcess(ref, stat)) {
      return { outcome: 'target-gone', detail: `process ${ref.target.id} no longer exists` };
    }
    // SIGCONT is sent even when the process does not look stopped yet: SIGSTOP takes effect
    // asynchronously, so a revert right after apply may observe the process still running.
    const wasStopped = stat.state === 'T';
    try {
      process.kill(ref.pid, 'SIGCONT');
    } catch (error) {
      if (hasErrorCode(error, 'ESRCH')) {
        return { outcome: 'target-gone', detail: `process ${ref.target.id} no longer exists` };
      }
      throw new SimianError(
        'SIMIAN_REVERT_FAILED',
        `could not send SIGCONT to pid ${ref.pid}: ${message(error)}`,
        {
          cause: error,
        },
      );
    }
    return wasStopped
      ? { outcome: 'reverted', detail: `SIGCONT sent to pid ${ref.pid}` }
      : { outcome: 'nothing-to-revert', detail: `pid ${ref.pid} was not stopped; SIGCONT sent anyway` };
  },
};

const executors = {
  kill: {
    async apply(proc, fault) {
      sendSignal(proc, fault.signal);
      return { detail: `${fault.signal} sent to pid ${proc.pid}` };
    },
    async revert() {
      return { outcome: 'nothing-to-revert' };
    },
  },
  pause,
  latency: hostNetworkExecutor(),
  loss: hostNetworkExecutor(),
  bandwidth: hostNetworkExecutor(),
  reset: hostNetworkExecutor(),
  timeout: hostNetworkExecutor(),
  'zone-outage': {
    async apply(proc, fault, context) {
      if (fault.mode !== 'pause') {
        throw new FaultRefusedError(
          'SIMIAN_FAULT_UNSUPPORTED',
          `the process driver cannot make a zone outage with mode ${fault.mode}; it can only pause a zone`,
        );
      }
      const applied = await pause.apply(proc, { type: 'pause' }, context);
      return { detail: `zone ${fault.zone} lost: ${applied.detail}` };
    },
    revert: (ref, _fault, context) => pause.revert(ref, { type: 'pause' }, context),
  },
  noop: noopExecutor(),
} satisfies ExecutorRegistry<LiveProcess, ProcessRef, (typeof driverFaults)['process'][number] | 'noop'>;

/**
 * Processes share the host's network namespace: a fault on a target's ports acts on those ports
 * of the host, for every client, and its rules outlive the process until reverted.
 */
function hostSite(target: Target): NetworkSite {
  return {
    ns: { what: `the host (ports of process ${target.name})` },
    localAddress: '127.0.0.1',
    reachableAddress: '127.0.0.1',
    shared: true,
  };
}

function hostNetworkExecutor<T extends NetworkFault['type']>(): FaultExecutor<LiveProcess, ProcessRef, T> {
  return {
    apply: (proc, fault, context) => applyNetworkFault(hostSite(proc.target), fault, context),
    revert: (ref, _fault, context) => revertNetworkFault(hostSite(ref.target), '', context),
    renew: (_ref, _fault, context) => renewNetworkFault(context),
  };
}

/**
 * Local OS processes that opt in by carrying labels in their SIMIAN_LABELS environment variable.
 * Needs nothing installed, only a readable /proc (Linux).
 */
export class ProcessDriver implements TargetDriver {
  readonly name = 'process' as const;

  async list(selector: Selector, agentName: string, agentZone?: string): Promise<Target[]> {
    const pids = (await listPids()).filter((pid) => pid !== process.pid);
    const targets: Target[] = [];
    for (let i = 0; i < pids.length; i += LIST_BATCH) {
      const batch = await Promise.all(
        pids.slice(i, i + LIST_BATCH).map((pid) => describeProcess(pid, agentName, agentZone)),
      );
      for (const target of batch) {
        if (target && !isProtected(target.labels) && matchesSelector(target, selector)) targets.push(target);
      }
    }
    return targets.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  }

  async apply(target: Target, fault: WireFault, context: FaultContext): Promise<AppliedFault> {
    const executor = executorFor(executors, this.name, fault);
    return executor.apply(await resolveLive(target), fault, context);
  }

  async revert(
    target: Target,
    fault: WireFault,
    context: Pick<FaultContext, 'faultId'>,
  ): Promise<RevertOutcome> {
    const executor = executorFor(executors, this.name, fault);
    // Rules on the host's ports do not die with the process: they are removed whatever its id says.
    const ref = parseRef(target) ?? (isNetworkFault(fault) ? { target, pid: 0, startTime: '' } : undefined);
    if (!ref)
      return { outcome: 'target-gone', detail: `"${target.id}" is not a process id (<pid>:<starttime>)` };
    return executor.revert(ref, fault, context);
  }

  async renew(target: Target, fault: WireFault, context: FaultContext): Promise<void> {
    const ref = parseRef(target) ?? { target, pid: 0, startTime: '' };
    await executorFor(executors, this.name, fault).renew?.(ref, fault, context);
  }

  async available(): Promise<boolean> {
    if (process.platform !== 'linux') return false;
    return (await readProcStat(process.pid)) !== undefined;
  }
}

async function describeProcess(
  pid: number,
  agentName: string,
  agentZone: string | undefined,
): Promise<Target | undefined> {
  const labels = await readProcessLabels(pid);
  if (!labels) return undefined;
  const stat = await readProcStat(pid);
  if (!stat || isGoneState(stat.state)) return undefined;
  const zone = targetZone(labels, agentZone);
  return {
    driver: 'process',
    id: formatProcessId(pid, stat.startTime),
    name: labels[NAME_LABEL] ?? `${stat.comm}[${pid}]`,
    labels,
    ...(zone === undefined ? {} : { zone }),
    agent: agentName,
  };
}

function parseRef(target: Target): ProcessRef | undefined {
  const parsed = parseProcessId(target.id);
  return parsed && { target, ...parsed };
}

const STOP_CONFIRM_MS = 1_000;

async function waitForStopped(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await readProcStat(pid))?.state;
    if (state === 'T' || state === 't') return true;
    if (state === undefined || Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Re-reads the process behind the target id: same pid AND start time, labels read now. */
async function resolveLive(target: Target): Promise<LiveProcess> {
  const ref = parseRef(target);
  if (!ref) {
    throw new FaultRefusedError(
      'SIMIAN_TARGET_NOT_FOUND',
      `"${target.id}" is not a process id (<pid>:<starttime>)`,
    );
  }
  const stat = await readProcStat(ref.pid);
  if (!isSameProcess(ref, stat)) {
    throw new FaultRefusedError(
      'SIMIAN_TARGET_NOT_FOUND',
      `process ${target.id} (${target.name}) no longer exists${stat ? `; pid ${ref.pid} now belongs to another process` : ''}`,
    );
  }
  const labels = await readProcessLabels(ref.pid);
  if (!labels) {
    throw new FaultRefusedError(
      'SIMIAN_TARGET_NOT_FOUND',
      `process ${target.id} (${target.name}) no longer carries ${LABELS_ENV}, or its environment cannot be read`,
    );
  }
  if (isProtected(labels)) throw protectedError(`process ${target.id} (${target.name})`);
  return { ...ref, stat, labels };
}

function isSameProcess(ref: ProcessRef, stat: ProcStat | undefined): stat is ProcStat {
  return stat !== undefined && stat.startTime === ref.startTime && !isGoneState(stat.state);
}

/** Zombie or dead: the process has exited, only its entry is left. */
function isGoneState(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

function sendSignal(target: ProcessRef, signal: NodeJS.Signals): void {
  try {
    process.kill(target.pid, signal);
  } catch (error) {
    if (hasErrorCode(error, 'ESRCH')) {
      throw new FaultRefusedError('SIMIAN_TARGET_NOT_FOUND', `process ${target.target.id} no longer exists`, {
        cause: error,
      });
    }
    throw new FaultRefusedError(
      'SIMIAN_INJECT_FAILED',
      `could not send ${signal} to pid ${target.pid}: ${message(error)}`,
      {
        cause: error,
        hint: hasErrorCode(error, 'EPERM')
          ? 'run the agent as the same user as the target, or as root'
          : undefined,
      },
    );
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
