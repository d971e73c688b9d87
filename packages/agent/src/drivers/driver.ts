import {
  type DriverName,
  PROTECTED_LABEL,
  type Selector,
  SimianError,
  type Target,
  type WireFault,
  type WireFaultType,
  ZONE_LABEL,
} from '@simian/protocol';

/** What a driver did to apply a fault, for the journal (e.g. "SIGKILL sent to pid 123 from the host"). */
export interface AppliedFault {
  detail: string;
  /** For network faults: how the fault was made (e.g. "proxy+nftables"), for the journal. */
  mechanism?: string;
}

/**
 * What a driver knows of a fault besides (target, fault): its id, which names everything the fault
 * creates (an nft table, a proxy process), so a revert after a crash finds them from the ledger.
 */
export interface FaultContext {
  faultId: string;
  /** The lease: faults the kernel can end by itself are given this (plus a margin) to live. */
  leaseMs: number;
}

/** How a revert ended. Reverting twice, or after a crash without knowing whether apply ran, is safe. */
export interface RevertOutcome {
  outcome: 'reverted' | 'nothing-to-revert' | 'target-gone';
  detail?: string;
}

/**
 * Finds and hits targets of one kind. `revert` depends on (target, fault) alone and is idempotent:
 * the ledger stores only those, and after a crash the agent reverts without knowing whether apply
 * completed.
 */
export interface TargetDriver {
  readonly name: DriverName;
  /** Targets matching the selector, protected ones left out. */
  list(selector: Selector, agentName: string, agentZone?: string): Promise<Target[]>;
  /** Re-reads the target's current labels and refuses protected targets (SIMIAN_TARGET_PROTECTED). */
  apply(target: Target, fault: WireFault, context: FaultContext): Promise<AppliedFault>;
  revert(target: Target, fault: WireFault, context: Pick<FaultContext, 'faultId'>): Promise<RevertOutcome>;
  /** Extends what the kernel or a helper process enforces on its own (timeouts) to the new lease. */
  renew(target: Target, fault: WireFault, context: FaultContext): Promise<void>;
  /** Whether the driver can work on this host right now (e.g. the Docker Engine answers). */
  available(): Promise<boolean>;
}

export type FaultOf<T extends WireFaultType> = Extract<WireFault, { type: T }>;

/**
 * Applies and reverts one fault type. `A` is the target as the driver resolved it for apply (alive,
 * labels re-read, not protected); `R` is what revert gets: only what the target's id says, since the
 * target may be gone or replaced by then.
 */
export interface FaultExecutor<A, R, T extends WireFaultType> {
  apply(target: A, fault: FaultOf<T>, context: FaultContext): Promise<AppliedFault>;
  revert(target: R, fault: FaultOf<T>, context: Pick<FaultContext, 'faultId'>): Promise<RevertOutcome>;
  /** Only for faults with their own timeouts (network faults); the others live by the lease alone. */
  renew?(target: R, fault: FaultOf<T>, context: FaultContext): Promise<void>;
}

/**
 * One executor per fault type a driver supports. Used with `satisfies` against the driver's row of
 * `driverFaults`, so adding a fault type there fails typecheck until it has an executor and a revert.
 */
export type ExecutorRegistry<A, R, T extends WireFaultType> = { readonly [K in T]: FaultExecutor<A, R, K> };

/**
 * Picks the executor for a fault, or throws SIMIAN_FAULT_UNSUPPORTED. The cast is the one place
 * where the correlation between `fault.type` and the registry key is lost to TypeScript.
 */
export function executorFor<A, R, T extends WireFaultType>(
  registry: ExecutorRegistry<A, R, T>,
  driver: DriverName,
  fault: WireFault,
): FaultExecutor<A, R, WireFaultType> {
  if (!Object.hasOwn(registry, fault.type)) {
    throw new FaultRefusedError(
      'SIMIAN_FAULT_UNSUPPORTED',
      `the ${driver} driver cannot apply a "${fault.type}" fault`,
      { hint: `faults the ${driver} driver supports: ${Object.keys(registry).join(', ')}` },
    );
  }
  return registry[fault.type as T] as unknown as FaultExecutor<A, R, WireFaultType>;
}

/** The target's own zone label wins over the zone of the agent it runs under. */
export function targetZone(
  labels: Record<string, string>,
  agentZone: string | undefined,
): string | undefined {
  return labels[ZONE_LABEL] ?? agentZone;
}

/** `noop` measures the command path: the target is looked up and checked as usual, then left alone. */
export function noopExecutor<A, R>(): FaultExecutor<A, R, 'noop'> {
  return {
    apply: async () => ({ detail: 'noop' }),
    revert: async () => ({ outcome: 'nothing-to-revert', detail: 'noop' }),
  };
}

/**
 * Thrown by a driver that refused a fault before changing anything (target gone or protected,
 * fault unsupported, precondition unmet): the runner then has nothing to revert.
 */
export class FaultRefusedError extends SimianError {}

export function protectedError(what: string): FaultRefusedError {
  return new FaultRefusedError(
    'SIMIAN_TARGET_PROTECTED',
    `${what} carries ${PROTECTED_LABEL}=true; refusing to touch it`,
    {
      hint: `remove the ${PROTECTED_LABEL} label from the target to allow faults on it`,
    },
  );
}

/** Whether `error` is a Node.js system error with one of the given codes (ENOENT, ESRCH, ...). */
export function hasErrorCode(error: unknown, ...codes: string[]): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    codes.includes((error as { code: string }).code)
  );
}
