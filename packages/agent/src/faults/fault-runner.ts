import {
  type ActiveFault,
  type AgentMessage,
  type DriverName,
  instantaneousFaults,
  type MessageOf,
  networkFaults,
  type Selector,
  SimianError,
  type Target,
  type WireFault,
} from '@simian/protocol';
import type { Logger } from 'pino';
import {
  type AppliedFault,
  FaultRefusedError,
  type RevertOutcome,
  type TargetDriver,
} from '../drivers/driver.js';
import type { Ledger, LedgerEntry } from '../ledger/ledger.js';

type RevertedMessage = MessageOf<AgentMessage, 'reverted'>;
export type RevertReason = RevertedMessage['reason'];

/** A revert the runner did, shaped as the `reverted` message without its type and request id. */
export type RevertedEvent = Omit<RevertedMessage, 'type' | 'id'>;

export interface ApplyRequest {
  faultId: string;
  runId: string;
  target: Target;
  fault: WireFault;
  /** The runner reverts the fault by itself when the lease is not renewed within this. */
  leaseMs: number;
}

export interface ApplyResult {
  injectedAt: number;
  leaseExpiresAt: number;
  detail: string;
  mechanism?: string;
}

export interface RevertResult {
  outcome: RevertOutcome['outcome'];
  revertedAt: number;
  detail?: string;
}

export interface FaultRunnerOptions {
  ledger: Ledger;
  drivers: readonly TargetDriver[];
  logger?: Logger;
  /** Called after the runner reverted a fault on its own: lease expiry, or a retry of a failed revert. */
  onAutoRevert?: (event: RevertedEvent) => void;
  /** First delay before retrying a failed revert; doubles on each failure. @default 1000 */
  retryMinMs?: number;
  /** @default 30000 */
  retryMaxMs?: number;
}

interface HeldFault {
  entry: LedgerEntry;
  applied: ApplyResult;
  /** The lease timer, or the retry timer after a failed revert. */
  timer: NodeJS.Timeout | undefined;
  /** Failed revert attempts in a row; non-zero means the lease is over and the runner is retrying. */
  failures: number;
  reverting: Promise<RevertResult> | undefined;
}

interface FinishedFault {
  applied: ApplyResult;
  reverted: RevertResult;
}

/** Finished fault ids remembered so a repeated inject or revert is answered, not executed again. */
const FINISHED_MEMORY = 10_000;

/**
 * Applies and reverts faults through the drivers, with the ledger as the durable record and a
 * lease per fault. Every fault is in the ledger before it is applied and leaves it only once
 * reverted, so a crash at any point is undone by `recover()` on the next start.
 *
 * Lease and retry timers are deliberately not unref'd: an applied fault is a reason for the
 * process to stay alive until it is reverted. `close()` drops them.
 */
export class FaultRunner {
  readonly #ledger: Ledger;
  readonly #drivers: Map<DriverName, TargetDriver>;
  readonly #logger: Logger | undefined;
  readonly #onAutoRevert: ((event: RevertedEvent) => void) | undefined;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #held = new Map<string, HeldFault>();
  readonly #applying = new Map<string, Promise<ApplyResult>>();
  readonly #finished = new Map<string, FinishedFault>();
  readonly #finishedOrder: Array<string | undefined> = new Array(FINISHED_MEMORY);
  #finishedNext = 0;
  #recovered = false;
  #closed = false;

  constructor(options: FaultRunnerOptions) {
    this.#ledger = options.ledger;
    this.#drivers = new Map(options.drivers.map((driver) => [driver.name, driver]));
    this.#logger = options.logger;
    this.#onAutoRevert = options.onAutoRevert;
    this.#retryMinMs = options.retryMinMs ?? 1_000;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
  }

  /**
   * Reverts every fault the ledger holds (left by an earlier run of the agent) and returns what it
   * did. Call once, before `apply`. A fault that cannot be reverted stays held, in the ledger and
   * in `active()`, and is retried in the background.
   */
  async recover(): Promise<RevertedEvent[]> {
    if (this.#recovered) throw new Error('FaultRunner.recover() was already called');
    const held = this.#ledger.entries().map((entry) => {
      const fault: HeldFault = {
        entry,
        applied: {
          injectedAt: entry.recordedAt,
          leaseExpiresAt: entry.leaseExpiresAt,
          detail: 'found in the ledger',
        },
        timer: undefined,
        failures: 0,
        reverting: undefined,
      };
      this.#held.set(entry.faultId, fault);
      return fault;
    });
    const events = await this.#revertMany(held, 'ledger-recovery');
    this.#recovered = true;
    return events;
  }

  /**
   * Records the fault in the ledger, applies it and starts its lease. Applying a faultId the runner
   * already knows returns the first result and applies nothing.
   */
  apply(request: ApplyRequest): Promise<ApplyResult> {
    if (!this.#recovered) {
      return Promise.reject(new Error('FaultRunner.recover() must finish before faults are applied'));
    }
    if (this.#closed) return Promise.reject(new Error('FaultRunner is closed'));
    const known = this.#held.get(request.faultId)?.applied ?? this.#finished.get(request.faultId)?.applied;
    if (known) return Promise.resolve(known);
    const pending = this.#applying.get(request.faultId);
    if (pending) return pending;
    const applying = this.#apply(request).finally(() => this.#applying.delete(request.faultId));
    this.#applying.set(request.faultId, applying);
    return applying;
  }

  /**
   * Reverts one fault and removes it from the ledger. Reverting a fault the runner no longer holds
   * answers with the earlier result (or nothing-to-revert). On failure the fault stays in the
   * ledger, a retry is scheduled, and SIMIAN_REVERT_FAILED is thrown.
   */
  async revert(faultId: string, reason: RevertReason): Promise<RevertResult> {
    await this.#applying.get(faultId)?.catch(() => undefined);
    const held = this.#held.get(faultId);
    if (held) return this.#revertHeld(held, reason);
    return (
      this.#finished.get(faultId)?.reverted ?? {
        outcome: 'nothing-to-revert',
        revertedAt: Date.now(),
        detail: `fault ${faultId} is not held by this agent`,
      }
    );
  }

  /** Extends the leases of held faults; returns the ids the runner does not hold. */
  renew(faultIds: readonly string[], leaseMs: number): string[] {
    const unknown: string[] = [];
    for (const faultId of faultIds) {
      const held = this.#held.get(faultId);
      if (!held) {
        if (!this.#applying.has(faultId)) unknown.push(faultId);
        continue;
      }
      // A fault whose lease already ran out is being reverted; renewing cannot bring it back.
      if (held.failures > 0 || held.reverting) continue;
      const leaseExpiresAt = Date.now() + leaseMs;
      held.entry = { ...held.entry, leaseExpiresAt };
      held.applied = { ...held.applied, leaseExpiresAt };
      this.#schedule(held, leaseMs, 'lease-expired');
      this.#renewTimeouts(held, leaseMs);
    }
    return unknown;
  }

  /**
   * Moves the timeouts the kernel or a fault proxy keep by themselves, off the reply path. Failing
   * is safe: the fault then ends at the old timeout, early rather than late.
   */
  #renewTimeouts(held: HeldFault, leaseMs: number): void {
    const { faultId, runId, target, fault } = held.entry;
    const driver = this.#drivers.get(target.driver);
    if (!driver || !networkFaults.has(fault.type)) return;
    driver.renew(target, fault, { faultId, leaseMs }).catch((error: unknown) => {
      this.#logger?.warn(
        { faultId, runId, err: messageOf(error) },
        'cannot extend the timeouts of a network fault; it ends at the old ones',
      );
    });
  }

  /** Reverts every held fault (after letting applies in flight finish); returns the successful reverts. */
  async revertAll(reason: RevertReason): Promise<RevertedEvent[]> {
    await Promise.allSettled(this.#applying.values());
    return this.#revertMany([...this.#held.values()], reason);
  }

  /** Faults applied and not yet reverted, as reported to the orchestrator. */
  active(): ActiveFault[] {
    return [...this.#held.values()].map(({ entry }) => ({
      faultId: entry.faultId,
      runId: entry.runId,
      target: entry.target,
      fault: entry.fault,
      leaseExpiresAt: entry.leaseExpiresAt,
    }));
  }

  async listTargets(
    driver: DriverName,
    selector: Selector,
    agentName: string,
    zone?: string,
  ): Promise<Target[]> {
    return this.#driver(driver).list(selector, agentName, zone);
  }

  /** Drops every timer; held faults stay in the ledger for the next start to recover. */
  close(): void {
    this.#closed = true;
    for (const held of this.#held.values()) {
      clearTimeout(held.timer);
      held.timer = undefined;
    }
  }

  async #apply({ faultId, runId, target, fault, leaseMs }: ApplyRequest): Promise<ApplyResult> {
    const driver = this.#driver(target.driver);
    if (fault.type === 'noop') return this.#applyNoop(faultId, leaseMs);
    const recordedAt = Date.now();
    const entry: LedgerEntry = {
      faultId,
      runId,
      target,
      fault,
      leaseExpiresAt: recordedAt + leaseMs,
      recordedAt,
    };
    try {
      await this.#ledger.record(entry);
    } catch (error) {
      throw new SimianError(
        'SIMIAN_INJECT_FAILED',
        `fault ${faultId} was not applied: cannot record it in the ledger: ${messageOf(error)}`,
        { cause: error },
      );
    }
    let applied: AppliedFault;
    try {
      applied = await driver.apply(target, fault, { faultId, leaseMs });
    } catch (error) {
      throw await this.#undoFailedApply(entry, driver, error);
    }
    const injectedAt = Date.now();
    const result: ApplyResult = {
      injectedAt,
      leaseExpiresAt: injectedAt + leaseMs,
      detail: applied.detail,
      ...(applied.mechanism === undefined ? {} : { mechanism: applied.mechanism }),
    };
    const held: HeldFault = {
      entry: { ...entry, leaseExpiresAt: result.leaseExpiresAt },
      applied: result,
      timer: undefined,
      failures: 0,
      reverting: undefined,
    };
    if (instantaneousFaults.has(fault.type)) {
      this.#remember(faultId, {
        applied: result,
        reverted: { outcome: 'nothing-to-revert', revertedAt: injectedAt },
      });
      // Off the reply path: the kill already happened, and the ledger's queue orders this removal
      // before any later write. Should it fail, the entry is held and its lease expiry retries it
      // (its revert is a no-op).
      this.#ledger.remove(faultId).catch((error: unknown) => {
        this.#logger?.warn(
          { faultId, runId, err: messageOf(error) },
          'cannot remove an instantaneous fault from the ledger',
        );
        this.#held.set(faultId, held);
        this.#schedule(held, leaseMs, 'lease-expired');
      });
      return result;
    }
    this.#held.set(faultId, held);
    this.#schedule(held, leaseMs, 'lease-expired');
    return result;
  }

  /**
   * A noop changes nothing, so there is nothing to record, check or revert: it goes through the
   * whole command path (frames, schemas, runner, reply) and stops short of the driver, which is
   * what the command round-trip benchmark measures.
   */
  #applyNoop(faultId: string, leaseMs: number): ApplyResult {
    const injectedAt = Date.now();
    const result: ApplyResult = { injectedAt, leaseExpiresAt: injectedAt + leaseMs, detail: 'noop' };
    this.#remember(faultId, {
      applied: result,
      reverted: { outcome: 'nothing-to-revert', revertedAt: injectedAt },
    });
    return result;
  }

  /**
   * After a failed apply: a refusal changed nothing, so only the ledger entry goes; anything else
   * may have half-applied, so the fault is reverted first. Returns the error to throw.
   */
  async #undoFailedApply(entry: LedgerEntry, driver: TargetDriver, error: unknown): Promise<SimianError> {
    const { faultId, runId, target, fault } = entry;
    if (!(error instanceof FaultRefusedError)) {
      try {
        await driver.revert(target, fault, { faultId });
      } catch (revertError) {
        const held: HeldFault = {
          entry,
          applied: {
            injectedAt: entry.recordedAt,
            leaseExpiresAt: entry.leaseExpiresAt,
            detail: 'apply failed',
          },
          timer: undefined,
          failures: 1,
          reverting: undefined,
        };
        this.#held.set(faultId, held);
        this.#schedule(held, this.#retryDelay(held), 'lease-expired');
        return new SimianError(
          'SIMIAN_INJECT_FAILED',
          `${messageOf(error)}; undoing it failed too (${messageOf(revertError)}), so fault ${faultId} stays in the ledger and its revert is retried`,
          { cause: error },
        );
      }
    }
    try {
      await this.#ledger.remove(faultId);
    } catch (removeError) {
      // Harmless: the next start finds the entry and reverts it, which for a fault never applied does nothing.
      this.#logger?.warn(
        { faultId, runId, err: messageOf(removeError) },
        'cannot remove a failed fault from the ledger',
      );
    }
    if (error instanceof FaultRefusedError) return error;
    const message =
      error instanceof SimianError
        ? error.message
        : `cannot apply ${fault.type} to ${describeTarget(target)}: ${messageOf(error)}`;
    return new SimianError('SIMIAN_INJECT_FAILED', message, { cause: error });
  }

  #revertHeld(held: HeldFault, reason: RevertReason): Promise<RevertResult> {
    if (held.reverting) return held.reverting;
    clearTimeout(held.timer);
    held.timer = undefined;
    const { faultId, target, fault } = held.entry;
    const reverting = (async (): Promise<RevertResult> => {
      const driver = this.#drivers.get(target.driver);
      if (!driver) {
        throw new SimianError(
          'SIMIAN_REVERT_FAILED',
          `cannot revert fault ${faultId}: this agent has no ${target.driver} driver`,
        );
      }
      let outcome: RevertOutcome;
      try {
        outcome = await driver.revert(target, fault, { faultId });
      } catch (error) {
        throw new SimianError(
          'SIMIAN_REVERT_FAILED',
          `cannot revert ${fault.type} on ${describeTarget(target)} (fault ${faultId}): ${messageOf(error)}`,
          { cause: error },
        );
      }
      try {
        await this.#ledger.remove(faultId);
      } catch (error) {
        throw new SimianError(
          'SIMIAN_REVERT_FAILED',
          `reverted fault ${faultId}, but cannot remove it from the ledger: ${messageOf(error)}`,
          { cause: error },
        );
      }
      const result: RevertResult = {
        outcome: outcome.outcome,
        revertedAt: Date.now(),
        ...(outcome.detail === undefined ? {} : { detail: outcome.detail }),
      };
      this.#held.delete(faultId);
      this.#remember(faultId, { applied: held.applied, reverted: result });
      return result;
    })();
    held.reverting = reverting;
    return reverting.then(
      (result) => {
        held.reverting = undefined;
        return result;
      },
      (error: unknown) => {
        held.reverting = undefined;
        held.failures += 1;
        const delay = this.#retryDelay(held);
        this.#logger?.warn(
          { faultId, runId: held.entry.runId, reason, retryInMs: delay, err: messageOf(error) },
          'revert failed; the fault stays in the ledger and is retried',
        );
        this.#schedule(held, delay, reason);
        throw error;
      },
    );
  }

  async #revertMany(held: HeldFault[], reason: RevertReason): Promise<RevertedEvent[]> {
    const settled = await Promise.allSettled(
      held.map(async (fault) => toEvent(fault.entry, reason, await this.#revertHeld(fault, reason))),
    );
    return settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  }

  #autoRevert(faultId: string, reason: RevertReason): void {
    const held = this.#held.get(faultId);
    if (!held) return;
    this.#revertHeld(held, reason).then(
      (result) => {
        const event = toEvent(held.entry, reason, result);
        this.#logger?.info(
          { faultId, runId: event.runId, reason, outcome: event.outcome },
          'fault reverted by the agent',
        );
        try {
          this.#onAutoRevert?.(event);
        } catch (error) {
          this.#logger?.error({ faultId, err: messageOf(error) }, 'onAutoRevert callback threw');
        }
      },
      // Logged and rescheduled by #revertHeld.
      () => undefined,
    );
  }

  #schedule(held: HeldFault, delayMs: number, reason: RevertReason): void {
    clearTimeout(held.timer);
    held.timer = undefined;
    if (this.#closed) return;
    const faultId = held.entry.faultId;
    held.timer = setTimeout(() => {
      held.timer = undefined;
      this.#autoRevert(faultId, reason);
    }, delayMs);
  }

  #retryDelay(held: HeldFault): number {
    return Math.min(this.#retryMinMs * 2 ** Math.max(0, held.failures - 1), this.#retryMaxMs);
  }

  #remember(faultId: string, finished: FinishedFault): void {
    if (!this.#finished.has(faultId)) {
      // A ring of ids evicts the oldest in O(1); Map.keys().next() walks every deleted slot first.
      const evicted = this.#finishedOrder[this.#finishedNext];
      if (evicted !== undefined) this.#finished.delete(evicted);
      this.#finishedOrder[this.#finishedNext] = faultId;
      this.#finishedNext = (this.#finishedNext + 1) % FINISHED_MEMORY;
    }
    this.#finished.set(faultId, finished);
  }

  #driver(name: DriverName): TargetDriver {
    const driver = this.#drivers.get(name);
    if (!driver) {
      throw new FaultRefusedError('SIMIAN_FAULT_UNSUPPORTED', `this agent has no ${name} driver`, {
        hint: `start the agent where the ${name} driver is available`,
      });
    }
    return driver;
  }
}

function toEvent(entry: LedgerEntry, reason: RevertReason, result: RevertResult): RevertedEvent {
  return { faultId: entry.faultId, runId: entry.runId, reason, ...result };
}

function describeTarget(target: Target): string {
  return `${target.driver} target ${target.name} (${target.id})`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
