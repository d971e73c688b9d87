import { formatDuration } from '@simian/protocol';
import pc from 'picocolors';
import type { Journal, Verdict } from '../runner/journal.js';
import type { Plan, RunEvent } from '../runner/run-events.js';

export interface Output {
  write(text: string): void;
  isTTY: boolean;
}

const VERDICT_STYLE: Record<Verdict, (text: string) => string> = {
  passed: pc.green,
  failed: pc.red,
  aborted: pc.yellow,
  error: pc.magenta,
};

/**
 * Turns run events into human lines on stdout. On a terminal the probe health is one line
 * rewritten in place; elsewhere it is printed every few seconds so CI logs stay readable.
 */
export class ProgressPrinter {
  private startedAt = Date.now();
  private lastHealthPrint = 0;
  private healthLineOpen = false;

  constructor(private readonly out: Output) {}

  handle(event: RunEvent): void {
    switch (event.type) {
      case 'started':
        this.startedAt = event.at;
        this.line(
          `${pc.bold('run')} ${event.runId}  ${pc.bold(event.experiment)}  ${pc.dim(`seed ${event.seed}`)}`,
        );
        return;
      case 'phase':
        this.line(`${pc.cyan('phase')} ${event.phase}`);
        return;
      case 'plan':
        this.printTargets(event.plan);
        return;
      case 'injected':
        // The mechanism matters to whoever reads the numbers: a proxy adds its own latency.
        this.line(
          `${pc.red('injected')} ${event.fault} → ${event.target}${event.mechanism ? ` via ${event.mechanism}` : ''} ${pc.dim(`on ${event.agent}${event.detail ? `: ${event.detail}` : ''}`)}`,
        );
        return;
      case 'reverted':
        this.line(
          `${pc.green('reverted')} ${event.target} ${pc.dim(`${event.outcome} (${event.reason})${event.detail ? `: ${event.detail}` : ''}`)}`,
        );
        return;
      case 'health':
        this.health(event);
        return;
      case 'notice':
        this.line(`${event.level === 'warn' ? pc.yellow('warning') : pc.dim('note')} ${event.message}`);
        return;
      case 'verdict':
        return;
      case 'journal':
        this.printVerdict(event.journal);
        return;
      case 'failure':
        return;
    }
  }

  printPlan(plan: Plan): void {
    this.line(pc.bold(`dry run of ${plan.experiment}: nothing was touched`));
    this.printTargets(plan);
    plan.faults.forEach((fault, index) => {
      this.line(`  would apply ${describeFault(fault)} for ${plan.duration}`);
      const partition = plan.partitions?.find((candidate) => candidate.fault === index);
      if (fault.type !== 'partition' || partition === undefined) return;
      this.line(`    cutting the targets above off from ${partition.peers.length} peer(s):`);
      for (const peer of partition.peers) {
        this.line(
          `      ${peer.name} ${pc.dim(`${(peer.addresses ?? []).join(', ')} on ${peer.agent}${peer.zone ? ` (${peer.zone})` : ''}`)}`,
        );
      }
    });
  }

  private printTargets(plan: Plan): void {
    this.line(`${pc.cyan('targets')} ${plan.targets.length} of ${plan.candidates} matching:`);
    for (const target of plan.targets) {
      this.line(
        `  ${target.name} ${pc.dim(`${target.driver} ${target.id.slice(0, 12)} on ${target.agent}${target.zone ? ` (${target.zone})` : ''}`)}`,
      );
    }
  }

  private printVerdict(journal: Journal): void {
    const style = VERDICT_STYLE[journal.verdict];
    this.line(`${style(pc.bold(journal.verdict.toUpperCase()))}  ${journal.reason}`);
    for (const probe of journal.probes) {
      const parts = (['before', 'during', 'after'] as const)
        .map((phase) => {
          const judgement = probe[phase];
          if (!judgement) return undefined;
          const p95 = judgement.p95 === undefined ? '' : ` p95 ${formatDuration(Math.ceil(judgement.p95))}`;
          return `${phase} ${Math.round(judgement.successRate * 100)}% of ${judgement.samples}${p95}`;
        })
        .filter((part) => part !== undefined);
      if (parts.length > 0) this.line(`  ${probe.name}: ${parts.join(', ')}`);
    }
    if (journal.timeToRecoverMs !== null)
      this.line(`  time to recover: ${formatDuration(journal.timeToRecoverMs)}`);
  }

  private health(event: Extract<RunEvent, { type: 'health' }>): void {
    const text = `${pc.dim(`${formatDuration(Date.now() - this.startedAt).padStart(6)}`)} ${event.phase.padEnd(6)} ${event.probes
      .map((probe) => {
        const rate = `${probe.ok}/${probe.total} ok`;
        const coloured = probe.ok === probe.total ? pc.green(rate) : pc.red(rate);
        return `${probe.name} ${coloured}${probe.p95 === undefined ? '' : pc.dim(` p95 ${formatDuration(Math.ceil(probe.p95))}`)}`;
      })
      .join('  ')}`;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`);
      this.healthLineOpen = true;
      return;
    }
    if (Date.now() - this.lastHealthPrint < 5_000) return;
    this.lastHealthPrint = Date.now();
    this.out.write(`${text}\n`);
  }

  line(text: string): void {
    if (this.healthLineOpen) {
      this.out.write('\r\x1b[2K');
      this.healthLineOpen = false;
    }
    this.out.write(`${text}\n`);
  }
}

/** `latency(delay=200ms, ports=[8080])`, `partition(to={app=db}, peers=[10.0.0.5])`. */
export function describeFault(fault: { type: string } & Record<string, unknown>): string {
  const params = Object.entries(fault)
    .filter(([key, value]) => key !== 'type' && value !== undefined)
    .map(([key, value]) => `${key}=${describeValue(value)}`);
  return params.length === 0 ? fault.type : `${fault.type}(${params.join(', ')})`;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(describeValue).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    // A selector: labels flattened, as the run's messages show selectors.
    const entries = Object.entries(value).flatMap(([key, inner]) =>
      key === 'labels' && inner !== null && typeof inner === 'object'
        ? Object.entries(inner).map(([label, text]) => `${label}=${String(text)}`)
        : [`${key}=${describeValue(inner)}`],
    );
    return `{${entries.join(', ')}}`;
  }
  return String(value);
}
