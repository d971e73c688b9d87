import {
  type AgentMessage,
  durationMs,
  formatDuration,
  instantaneousFaults,
  isSimianError,
  type MessageOf,
  type Selector,
  SimianError,
  type Target,
  type WireFault,
} from '@simian/protocol';
import type { Logger } from 'pino';
import { parseMode } from '../experiments/mode.js';
import type { Experiment } from '../experiments/schema.js';
import type { AgentSession } from '../hub/agent-session.js';
import type { Hub } from '../hub/hub.js';
import {
  checkStopCondition,
  findRecovery,
  judgeTolerance,
  type Phase,
  type ProbeSample,
  ProbeSampler,
  summarizeProbe,
} from '../probes/index.js';
import {
  type FaultRecord,
  type Journal,
  type Judgement,
  newRunId,
  type PhaseName,
  type Verdict,
} from './journal.js';
import type { Plan, RunEvent } from './run-events.js';
import {
  candidateSelector,
  describeSelector,
  randomSeed,
  resolvePartitionPeers,
  selectTargets,
  zoneOutageOf,
} from './select-targets.js';
import { sleep } from './sleep.js';

export interface RunOptions {
  experiment: Experiment;
  file?: string;
  runId?: string;
  seed?: number;
  /** How long an agent keeps a fault without hearing from us. @default 30000 */
  leaseMs?: number;
  /** Operator halt: reverts at once, verdict `aborted`. */
  signal?: AbortSignal;
  emit?: (event: RunEvent) => void;
  logger: Logger;
}

const VERDICT_RANK: Record<Verdict, number> = { passed: 0, failed: 1, aborted: 2, error: 3 };
const HEALTH_EVERY_MS = 1_000;
const RECOVERY_POLL_MS = 50;
/** On top of a stop/restart grace period, which the agent waits out before it answers. */
const INJECT_TIMEOUT_MS = 15_000;
const REVERT_TIMEOUT_MS = 30_000;

/** Resolves targets and returns what a run would do, touching nothing. */
export async function planExperiment(hub: Hub, options: RunOptions): Promise<Plan> {
  const run = new ExperimentRun(hub, options);
  return run.plan();
}

/** Runs an experiment through every phase and returns its journal. Faults are always reverted. */
export async function runExperiment(hub: Hub, options: RunOptions): Promise<Journal> {
  const run = new ExperimentRun(hub, options);
  return run.execute();
}

class ExperimentRun {
  readonly runId: string;
  private readonly seed: number;
  private readonly leaseMs: number;
  private readonly logger: Logger;
  private readonly experiment: Experiment;
  private readonly startedAt = Date.now();
  private readonly phases: Journal['phases'] = [];
  private readonly faults: FaultRecord[] = [];
  private readonly judgements = new Map<
    string,
    { before?: Judgement; during?: Judgement; after?: Judgement }
  >();
  private readonly stop = new AbortController();
  private readonly sampler: ProbeSampler;
  private verdict: Verdict = 'passed';
  private reason = '';
  private error: { code: string; message: string } | undefined;
  private candidates = 0;
  private targets: Target[] = [];
  /** The experiment's faults as agents get them (partitions resolved), once targets are resolved. */
  private wireFaults: WireFault[] = [];
  private partitions: NonNullable<Plan['partitions']> = [];
  private stopCondition: Journal['stopCondition'];
  private injectionStartedAt: number | undefined;
  /** Fault ids whose inject was sent: each is reverted, replied to or not. */
  private readonly sent = new Set<string>();
  /** When this orchestrator learned each fault was reverted (its own clock). */
  private readonly revertSeenAt = new Map<string, number>();
  private renewal: NodeJS.Timeout | undefined;
  private timeToRecoverMs: number | null = null;

  constructor(
    private readonly hub: Hub,
    private readonly options: RunOptions,
  ) {
    this.experiment = options.experiment;
    this.runId = options.runId ?? newRunId();
    this.seed = options.seed ?? randomSeed();
    this.leaseMs = options.leaseMs ?? 30_000;
    this.logger = options.logger.child({ runId: this.runId, experiment: this.experiment.metadata.name });
    this.sampler = new ProbeSampler(this.experiment.spec.steadyState.probes, (sample) =>
      this.onSample(sample),
    );
  }

  async plan(): Promise<Plan> {
    this.emitStarted();
    await this.resolveTargets();
    return this.currentPlan();
  }

  async execute(): Promise<Journal> {
    this.emitStarted();
    this.logger.info({ seed: this.seed }, 'run started');
    const operator = this.options.signal;
    const onOperatorAbort = (): void => this.abort('halted by the operator; faults reverted at once');
    operator?.addEventListener('abort', onOperatorAbort, { once: true });
    const unsubscribe = this.watchAgentReverts();
    const health = setInterval(() => this.emitHealth(), HEALTH_EVERY_MS);
    try {
      await this.inPhase('resolve', () => this.resolveTargets());
      this.emit({ type: 'plan', plan: this.currentPlan() });
      this.sampler.start();
      if (operator?.aborted) onOperatorAbort();
      const held = await this.inPhase('before', () => this.steadyStateBefore());
      if (held && !this.stop.signal.aborted) {
        this.sampler.setPhase('during');
        await this.inPhase('inject', () => this.injectAll());
        await this.inPhase('hold', () => this.hold());
      }
    } catch (error) {
      this.fail(error);
    } finally {
      await this.inPhase('revert', () => this.revertAll());
    }
    try {
      if (this.injectionStartedAt !== undefined && !operator?.aborted) {
        this.sampler.setPhase('after');
        await this.inPhase('after', () => this.awaitRecovery());
      }
    } catch (error) {
      this.fail(error);
    } finally {
      clearInterval(health);
      unsubscribe();
      operator?.removeEventListener('abort', onOperatorAbort);
      await this.sampler.stop();
    }
    const journal = this.journal();
    this.logger.info({ verdict: journal.verdict, reason: journal.reason }, 'run finished');
    this.emit({ type: 'verdict', runId: this.runId, verdict: journal.verdict, reason: journal.reason });
    return journal;
  }

  private emitStarted(): void {
    this.emit({
      type: 'started',
      runId: this.runId,
      experiment: this.experiment.metadata.name,
      seed: this.seed,
      at: Date.now(),
    });
  }

  private async resolveTargets(): Promise<void> {
    const spec = this.experiment.spec;
    const driver = spec.target.driver;
    const sessions = this.hub.sessionsWith(driver);
    if (sessions.length === 0) {
      throw new SimianError('SIMIAN_NO_AGENTS', `no connected agent offers the ${driver} driver`, {
        hint: `start an agent on a host that has ${driver} (simian agent --orchestrator ws://…), or check \`simian agents\``,
      });
    }
    const selector = candidateSelector(spec.target.selector, spec.faults);
    const outage = zoneOutageOf(spec.faults);
    const listed = await this.listTargets(sessions, selector);
    // The agent already filters by zone; checked again here because a zone outage must never
    // reach past its zone, whatever an agent of another version answers.
    const all = outage === undefined ? listed : listed.filter((target) => target.zone === outage.zone);
    this.candidates = all.length;
    const mode = parseMode(spec.target.mode);
    if (typeof mode === 'string') throw new Error(`mode passed validation but does not parse: ${mode}`);
    this.targets = selectTargets(all, mode, this.seed);
    if (this.targets.length === 0) {
      const agents = `${sessions.length} agent(s): ${sessions.map((s) => s.name).join(', ')}`;
      if (outage !== undefined) {
        throw new SimianError(
          'SIMIAN_NO_TARGETS',
          `zone-outage of ${outage.zone}: no target matching ${describeSelector(spec.target.selector)} (driver ${driver}) is in zone ${outage.zone} on ${agents}`,
          {
            hint: "a target's zone is its simian.dev/zone label, or else the --zone of its agent (`simian agents` lists them); targets labelled simian.dev/protected=true are never chosen",
          },
        );
      }
      throw new SimianError(
        'SIMIAN_NO_TARGETS',
        `selector ${describeSelector(selector)} (driver ${driver}) matched no target on ${agents}`,
        {
          hint: 'check the labels with `docker ps --filter label=…` (docker) or the SIMIAN_LABELS of your processes; targets labelled simian.dev/protected=true are never chosen',
        },
      );
    }
    this.wireFaults = await Promise.all(
      spec.faults.map(async (fault, index): Promise<WireFault> => {
        if (fault.type !== 'partition') return fault;
        // The other side may live on any agent of the driver, not only where the targets are.
        const peers = resolvePartitionPeers(
          fault,
          this.targets,
          await this.listTargets(sessions, fault.to),
          sessions.map((session) => session.name),
        );
        this.partitions.push({ fault: index, peers: peers.targets });
        return { ...fault, peers: peers.addresses };
      }),
    );
    this.partitions.sort((a, b) => a.fault - b.fault);
    this.logger.info(
      {
        candidates: this.candidates,
        targets: this.targets.map((t) => ({ id: t.id, name: t.name, agent: t.agent })),
        ...(this.partitions.length === 0
          ? {}
          : { partitions: this.wireFaults.filter((fault) => fault.type === 'partition') }),
      },
      'targets resolved',
    );
  }

  private async listTargets(sessions: readonly AgentSession[], selector: Selector): Promise<Target[]> {
    const driver = this.experiment.spec.target.driver;
    const answers = await Promise.all(
      sessions.map((session) => session.request({ type: 'list-targets', driver, selector })),
    );
    return answers.flatMap((answer) => answer.targets);
  }

  private currentPlan(): Plan {
    return {
      runId: this.runId,
      experiment: this.experiment.metadata.name,
      seed: this.seed,
      candidates: this.candidates,
      targets: this.targets,
      faults: this.wireFaults,
      duration: this.experiment.spec.duration,
      ...(this.partitions.length === 0 ? {} : { partitions: this.partitions }),
    };
  }

  private async steadyStateBefore(): Promise<boolean> {
    const before = durationMs(this.experiment.spec.steadyState.before);
    await sleep(before, this.stop.signal);
    if (this.stop.signal.aborted) return false;
    const failures: string[] = [];
    for (const probe of this.experiment.spec.steadyState.probes) {
      const judgement = judgeTolerance(this.samplesOf(probe.name, 'before'), probe.tolerance);
      this.judge(probe.name, 'before', judgement);
      if (!judgement.ok) failures.push(`${probe.name}: ${judgement.reason ?? 'tolerance not met'}`);
    }
    if (failures.length > 0) {
      this.conclude(
        'failed',
        `steady state did not hold before injection (${failures.join('; ')}); no fault was injected`,
      );
      return false;
    }
    return true;
  }

  private async injectAll(): Promise<void> {
    this.injectionStartedAt = Date.now();
    // Renewals start with the first inject: a slow inject (a stop with a long grace period) must
    // not let the leases of faults already applied run out.
    const renewEvery = Math.max(100, Math.floor(this.leaseMs / 3));
    this.renewal = setInterval(() => void this.renewLeases(), renewEvery);
    this.targets.forEach((target) => {
      this.wireFaults.forEach((fault, index) => {
        this.faults.push({
          faultId: `${this.runId}/${index}/${target.id.slice(0, 24)}`,
          agent: target.agent,
          target,
          fault,
        });
      });
    });
    // Every target is hit at once: a zone losing power loses all its hosts together.
    const results = await Promise.allSettled(this.faults.map((record) => this.inject(record)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  private async inject(record: FaultRecord): Promise<void> {
    const session = this.requireSession(record.agent);
    // Sent means it may be applied even if no reply ever comes: it is reverted like the others
    // (the agent answers a revert of a fault it never applied with nothing-to-revert).
    this.sent.add(record.faultId);
    const grace = 'timeout' in record.fault ? durationMs(record.fault.timeout) : 0;
    const reply = await session.request(
      {
        type: 'inject',
        runId: this.runId,
        faultId: record.faultId,
        target: record.target,
        fault: record.fault,
        leaseMs: this.leaseMs,
      },
      INJECT_TIMEOUT_MS + grace,
    );
    record.injectedAt = reply.injectedAt;
    if (reply.detail !== undefined) record.detail = reply.detail;
    if (reply.mechanism !== undefined) record.mechanism = reply.mechanism;
    this.logger.info(
      {
        faultId: record.faultId,
        target: record.target.name,
        fault: record.fault.type,
        detail: reply.detail,
        mechanism: reply.mechanism,
      },
      'fault injected',
    );
    this.emit({
      type: 'injected',
      runId: this.runId,
      faultId: record.faultId,
      fault: record.fault.type,
      target: record.target.name,
      agent: record.agent,
      at: reply.injectedAt,
      ...(reply.detail === undefined ? {} : { detail: reply.detail }),
      ...(reply.mechanism === undefined ? {} : { mechanism: reply.mechanism }),
    });
  }

  private async hold(): Promise<void> {
    await sleep(durationMs(this.experiment.spec.duration), this.stop.signal);
    if (this.verdict !== 'passed') return;
    for (const probe of this.experiment.spec.steadyState.probes) {
      const samples = this.samplesOf(probe.name, 'during');
      if (samples.length === 0) {
        this.notice(
          'warn',
          `${probe.name}: no samples during the fault; lengthen spec.duration or shorten the probe interval`,
        );
        continue;
      }
      const judgement = judgeTolerance(samples, probe.tolerance);
      this.judge(probe.name, 'during', judgement);
      if (!judgement.ok)
        this.conclude('failed', `hypothesis violated during the fault: ${probe.name}: ${judgement.reason}`);
    }
  }

  private async renewLeases(): Promise<void> {
    const byAgent = new Map<string, string[]>();
    for (const record of this.activeFaults()) {
      byAgent.set(record.agent, [...(byAgent.get(record.agent) ?? []), record.faultId]);
    }
    await Promise.all(
      [...byAgent].map(async ([agent, faultIds]) => {
        const session = this.hub.session(agent);
        if (!session) {
          this.logger.warn({ agent }, 'cannot renew leases: agent not connected');
          return;
        }
        try {
          const reply = await session.request(
            { type: 'renew', faultIds, leaseMs: this.leaseMs },
            this.leaseMs,
          );
          for (const faultId of reply.unknown)
            this.markEndedByAgent(faultId, 'lease-expired', Date.now(), 'target-gone');
        } catch (error) {
          this.logger.warn({ agent, err: (error as Error).message }, 'lease renewal failed');
        }
      }),
    );
  }

  private async revertAll(): Promise<void> {
    clearInterval(this.renewal);
    const pending = this.faults.filter(
      (record) => this.sent.has(record.faultId) && record.revertedAt === undefined,
    );
    await Promise.all(pending.map((record) => this.revert(record)));
  }

  private async revert(record: FaultRecord): Promise<void> {
    if (instantaneousFaults.has(record.fault.type)) {
      record.revertOutcome = 'nothing-to-revert';
      return;
    }
    try {
      try {
        this.recordRevert(record, await this.requestRevert(record));
      } catch (error) {
        // A reconnect replaced the session under the request: the revert may never have arrived.
        // Reverting twice is safe, so ask the new session once more.
        if (!(isSimianError(error) && error.code === 'SIMIAN_AGENT_LOST') || record.revertedAt !== undefined)
          throw error;
        this.recordRevert(record, await this.requestRevert(record));
      }
    } catch (error) {
      if (record.revertedAt !== undefined) return; // the agent's lease beat us to it
      const message = (error as Error).message;
      record.error = `revert failed: ${message}`;
      this.logger.error({ faultId: record.faultId, err: message }, 'revert failed');
      this.conclude(
        'error',
        `could not revert ${record.fault.type} on ${record.target.name} (${message}); agent ${record.agent} keeps it in its ledger and ends it when its ${formatDuration(this.leaseMs)} lease runs out`,
        { code: 'SIMIAN_REVERT_FAILED', message },
      );
    }
  }

  private async requestRevert(record: FaultRecord): Promise<MessageOf<AgentMessage, 'reverted'>> {
    const session =
      this.hub.session(record.agent) ??
      (await this.hub.waitForAgent(record.agent, Math.min(this.leaseMs, 10_000)));
    return session.request({ type: 'revert', runId: this.runId, faultId: record.faultId }, REVERT_TIMEOUT_MS);
  }

  private recordRevert(record: FaultRecord, reply: MessageOf<AgentMessage, 'reverted'>): void {
    if (record.revertedAt !== undefined) return;
    // Recovery is timed on this clock: a remote agent's clock may be off.
    this.revertSeenAt.set(record.faultId, Date.now());
    record.revertedAt = reply.revertedAt;
    record.revertOutcome = reply.outcome;
    record.revertReason = reply.reason;
    if (reply.detail !== undefined) record.revertDetail = reply.detail;
    this.logger.info(
      { faultId: record.faultId, outcome: reply.outcome, reason: reply.reason, detail: reply.detail },
      'fault reverted',
    );
    this.emit({
      type: 'reverted',
      runId: this.runId,
      faultId: record.faultId,
      target: record.target.name,
      at: reply.revertedAt,
      outcome: reply.outcome,
      reason: reply.reason,
      ...(reply.detail === undefined ? {} : { detail: reply.detail }),
    });
  }

  private watchAgentReverts(): () => void {
    const onReverted = (_session: AgentSession, message: MessageOf<AgentMessage, 'reverted'>): void => {
      if (message.runId !== this.runId) return;
      this.markEndedByAgent(
        message.faultId,
        message.reason,
        message.revertedAt,
        message.outcome,
        message.detail,
      );
    };
    this.hub.on('reverted', onReverted);
    return () => this.hub.off('reverted', onReverted);
  }

  private markEndedByAgent(
    faultId: string,
    reason: string,
    at: number,
    outcome: string,
    detail?: string,
  ): void {
    const record = this.faults.find((candidate) => candidate.faultId === faultId);
    if (!record || record.revertedAt !== undefined || instantaneousFaults.has(record.fault.type)) return;
    this.recordRevert(record, {
      type: 'reverted',
      faultId,
      runId: this.runId,
      revertedAt: at,
      outcome: outcome as 'reverted',
      reason: reason as 'lease-expired',
      ...(detail === undefined ? {} : { detail }),
    });
    const phase = this.phases.at(-1)?.name;
    if (phase === 'inject' || phase === 'hold') {
      this.conclude(
        'error',
        `fault on ${record.target.name} ended early (${reason}) before the experiment's duration; the run cannot judge the hypothesis`,
      );
      this.stop.abort();
    }
  }

  private async awaitRecovery(): Promise<void> {
    const revertible = this.faults.filter((record) => !instantaneousFaults.has(record.fault.type));
    const since =
      revertible.length > 0
        ? Math.max(...revertible.map((record) => this.revertSeenAt.get(record.faultId) ?? Date.now()))
        : (this.injectionStartedAt ?? Date.now());
    const after = durationMs(this.experiment.spec.steadyState.after);
    const deadline = since + after;
    const operator = this.options.signal;
    let recovered: { recoveredAt: number } | undefined;
    while (!operator?.aborted) {
      recovered = findRecovery(this.samplesByProbe(), since);
      if (recovered || Date.now() >= deadline) break;
      await sleep(RECOVERY_POLL_MS, operator);
    }
    for (const probe of this.experiment.spec.steadyState.probes) {
      const samples = this.samplesOf(probe.name, 'after');
      if (samples.length > 0) this.judge(probe.name, 'after', judgeTolerance(samples, probe.tolerance));
    }
    if (recovered) {
      this.timeToRecoverMs = Math.max(0, recovered.recoveredAt - since);
      return;
    }
    this.conclude(
      'failed',
      `steady state did not come back within ${this.experiment.spec.steadyState.after} of the fault ending`,
    );
  }

  private onSample(sample: ProbeSample): void {
    // Only while the fault is held: a slow attempt that started during the fault may finish
    // during the revert, and must not turn a finished hold into an abort.
    if (sample.phase !== 'during' || this.phases.at(-1)?.name !== 'hold' || this.stop.signal.aborted) return;
    for (const condition of this.experiment.spec.stopWhen) {
      if (condition.probe !== sample.probe) continue;
      const since = this.samplesOf(condition.probe, 'during').filter(
        (s) => s.at >= (this.injectionStartedAt ?? 0),
      );
      const check = checkStopCondition(since, condition, Date.now());
      if (!check.triggered) continue;
      this.stopCondition = { probe: condition.probe, successRate: check.successRate, at: Date.now() };
      this.logger.warn(
        { probe: condition.probe, successRate: check.successRate },
        'stop condition met; aborting',
      );
      this.abort(
        `stop condition met: ${condition.probe} success rate ${check.successRate.toFixed(2)} below ${condition.successRateBelow} over ${condition.window}; faults reverted at once`,
      );
      return;
    }
  }

  private abort(reason: string): void {
    this.conclude('aborted', reason);
    this.stop.abort();
  }

  private fail(error: unknown): void {
    if (isSimianError(error)) {
      this.conclude('error', error.message, error.toWire());
      if (error.hint) this.notice('info', error.hint);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.logger.error(
      { err: message, stack: error instanceof Error ? error.stack : undefined },
      'run failed',
    );
    this.conclude('error', `internal error: ${message}`, { code: 'SIMIAN_INTERNAL', message });
  }

  /** The worst verdict wins; the first reason for it is kept. */
  private conclude(verdict: Verdict, reason: string, error?: { code: string; message: string }): void {
    const rank = VERDICT_RANK[verdict] - VERDICT_RANK[this.verdict];
    if (rank < 0 || (rank === 0 && this.reason !== '')) return;
    this.verdict = verdict;
    this.reason = reason;
    if (error) this.error = error;
  }

  private async inPhase<T>(name: PhaseName, work: () => Promise<T>): Promise<T> {
    const record: Journal['phases'][number] = { name, startedAt: Date.now() };
    this.phases.push(record);
    this.emit({ type: 'phase', runId: this.runId, phase: name, at: record.startedAt });
    this.logger.debug({ phase: name }, 'phase started');
    try {
      return await work();
    } finally {
      record.endedAt = Date.now();
    }
  }

  private activeFaults(): FaultRecord[] {
    return this.faults.filter(
      (record) =>
        record.injectedAt !== undefined &&
        record.revertedAt === undefined &&
        !instantaneousFaults.has(record.fault.type),
    );
  }

  private requireSession(agent: string): AgentSession {
    const session = this.hub.session(agent);
    if (!session) throw new SimianError('SIMIAN_AGENT_LOST', `agent ${agent} is not connected`);
    return session;
  }

  private samplesOf(probe: string, phase?: Phase): ProbeSample[] {
    return this.sampler
      .samples()
      .filter((sample) => sample.probe === probe && (phase === undefined || sample.phase === phase));
  }

  private samplesByProbe(): Map<string, ProbeSample[]> {
    return new Map(
      this.experiment.spec.steadyState.probes.map((probe) => [probe.name, this.samplesOf(probe.name)]),
    );
  }

  private judge(probe: string, phase: Phase, judgement: Judgement): void {
    const entry = this.judgements.get(probe) ?? {};
    entry[phase] = stripUndefined(judgement);
    this.judgements.set(probe, entry);
  }

  private emitHealth(): void {
    const samples = this.sampler.samples();
    const phase = samples.at(-1)?.phase;
    if (phase === undefined) return;
    this.emit({
      type: 'health',
      runId: this.runId,
      phase,
      probes: this.experiment.spec.steadyState.probes.map((probe) => {
        const summary = summarizeProbe(samples.filter((s) => s.probe === probe.name && s.phase === phase));
        return {
          name: probe.name,
          ok: summary.ok,
          total: summary.total,
          successRate: summary.successRate,
          ...(summary.p95 === undefined ? {} : { p95: summary.p95 }),
        };
      }),
    });
  }

  private notice(level: 'info' | 'warn', message: string): void {
    this.logger[level](message);
    this.emit({ type: 'notice', runId: this.runId, level, message });
  }

  private emit(event: RunEvent): void {
    try {
      this.options.emit?.(event);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'progress listener failed');
    }
  }

  private journal(): Journal {
    const reason =
      this.verdict === 'passed'
        ? `steady state held before, during and after the fault${this.timeToRecoverMs === null ? '' : `; recovered in ${formatDuration(this.timeToRecoverMs)}`}`
        : this.reason;
    return {
      apiVersion: 'simian.dev/v1alpha1',
      kind: 'RunJournal',
      runId: this.runId,
      experiment: {
        name: this.experiment.metadata.name,
        ...(this.options.file === undefined ? {} : { file: this.options.file }),
        ...(this.experiment.metadata.description === undefined
          ? {}
          : { description: this.experiment.metadata.description }),
      },
      seed: this.seed,
      startedAt: this.startedAt,
      endedAt: Date.now(),
      verdict: this.verdict,
      reason,
      ...(this.error === undefined ? {} : { error: this.error }),
      phases: this.phases,
      candidates: this.candidates,
      targets: this.targets,
      faults: this.faults,
      probes: this.experiment.spec.steadyState.probes.map((probe) => ({
        name: probe.name,
        ...this.judgements.get(probe.name),
      })),
      ...(this.stopCondition === undefined ? {} : { stopCondition: this.stopCondition }),
      timeToRecoverMs: this.timeToRecoverMs,
      samples: this.sampler.samples(),
    };
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
