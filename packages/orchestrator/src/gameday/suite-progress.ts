import { formatDuration, instantaneousFaults } from '@simian/protocol';
import pc from 'picocolors';
import { type Output, ProgressPrinter } from '../cli/progress.js';
import type { RunEvent } from '../runner/run-events.js';
import type { PlannedStep } from './load.js';
import type { ExperimentResult, Outcome, StepResult, SuiteReport } from './report-schema.js';
import type { Suite } from './run-suite.js';
import { failureMessage } from './score.js';

/** A terminal's output, which may know its width. */
export interface SuiteOutput extends Output {
  columns?: number;
}

const STATUS_STYLE: Record<ExperimentResult['status'], (text: string) => string> = {
  passed: pc.green,
  failed: pc.red,
  aborted: pc.yellow,
  error: pc.magenta,
  skipped: pc.dim,
};

const OUTCOME_STYLE: Record<Outcome, (text: string) => string> = {
  passed: pc.green,
  failed: pc.red,
  aborted: pc.yellow,
  error: pc.magenta,
  belowMinScore: pc.red,
};

/** How often the live block is redrawn for its clocks. */
const REDRAW_MS = 1_000;

interface Live {
  step: PlannedStep;
  position: string;
  startedAt: number;
  phase?: string;
  probes?: string;
  /** faultId → `pause → web-2`. */
  faults: Map<string, string>;
}

/**
 * Progress of a game day. On a terminal a few lines at the bottom are redrawn in place (step,
 * phase, elapsed time, probe health, faults active) under the permanent lines of each run;
 * elsewhere every line is printed once, with the health at most every few seconds, so CI logs
 * stay readable.
 */
export class SuiteProgress {
  private readonly run: ProgressPrinter;
  private live: Live | undefined;
  private drawn = 0;
  private suspended = false;
  private timer: NodeJS.Timeout | undefined;
  private total = 0;
  /** Permanent writes so far. */
  private written = 0;

  constructor(private readonly out: SuiteOutput) {
    // The run's own lines, indented under their step; on a terminal they go above the live block.
    this.run = new ProgressPrinter({
      isTTY: false,
      write: (text) => this.permanent(text.replace(/^(?=.)/gm, '  ')),
    });
  }

  suiteStarted(suite: Suite): void {
    this.total = suite.steps.length;
    const experiments = suite.steps.filter((step) => step.type === 'experiment').length;
    this.line(
      `${pc.bold('game day')} ${pc.bold(suite.name)}  ${pc.dim(`${suite.id} · ${suite.steps.length} step(s), ${experiments} experiment(s) · onFailure ${suite.onFailure}${suite.minScore === undefined ? '' : ` · minScore ${suite.minScore}`}`)}`,
    );
  }

  stepStarted(step: PlannedStep, position: number, experiments: number): void {
    const where = `step ${step.index + 1}/${this.total}`;
    const label =
      step.type === 'experiment'
        ? `experiment ${position}/${experiments} ${pc.bold(step.name)}${step.required ? '' : pc.dim(' (not required)')}`
        : step.type === 'pause'
          ? `pause ${step.duration}${step.reason === undefined ? '' : `: ${step.reason}`}`
          : `approval: ${step.message}`;
    this.line(`${pc.cyan(where)} ${label}`);
    this.live = { step, position: where, startedAt: Date.now(), faults: new Map() };
    if (this.out.isTTY && this.timer === undefined) {
      this.timer = setInterval(() => this.redraw(), REDRAW_MS);
      this.timer.unref();
    }
    this.redraw();
  }

  /** An event of the run of the current experiment step. */
  runEvent(event: RunEvent): void {
    const live = this.live;
    if (live !== undefined) {
      if (event.type === 'phase') live.phase = event.phase;
      if (event.type === 'health') {
        live.phase = live.phase ?? event.phase;
        live.probes = event.probes
          .map(
            (probe) =>
              `${probe.name} ${probe.ok}/${probe.total} ok${probe.p95 === undefined ? '' : ` p95 ${formatDuration(Math.ceil(probe.p95))}`}`,
          )
          .join('  ');
      }
      // Instantaneous faults have nothing held; they are shown by their line, not as active.
      if (event.type === 'injected' && !instantaneousFaults.has(event.fault as 'kill'))
        live.faults.set(event.faultId, `${event.fault} → ${event.target}`);
      if (event.type === 'reverted') live.faults.delete(event.faultId);
    }
    // On a terminal the health is in the live block; elsewhere the printer paces it.
    if (event.type === 'health' && this.out.isTTY) {
      this.redraw();
      return;
    }
    const before = this.written;
    this.run.handle(event);
    // A printed line already redrew the block; a state change without one needs it done here.
    if (this.written === before) this.redraw();
  }

  stepFinished(result: StepResult): void {
    this.live = undefined;
    this.clear();
    switch (result.type) {
      case 'experiment': {
        const style = STATUS_STYLE[result.status];
        const text =
          result.status === 'passed' || result.status === 'skipped' ? result.reason : failureMessage(result);
        if (result.status === 'skipped') {
          this.line(
            `${pc.cyan(`step ${result.index + 1}/${this.total}`)} ${result.name} ${style('SKIPPED')} ${pc.dim(text)}`,
          );
        } else {
          this.line(`  ${style(pc.bold(result.status.toUpperCase()))} ${result.name}: ${text}`);
          if (result.journal !== undefined) this.line(pc.dim(`  journal: ${result.journal}`));
        }
        return;
      }
      case 'pause':
        if (result.status !== 'done')
          this.line(
            `${pc.cyan(`step ${result.index + 1}/${this.total}`)} pause ${result.duration} ${pc.dim(result.status)}`,
          );
        return;
      case 'approval':
        if (result.status === 'approved')
          this.line(`  ${pc.green('approved')} ${pc.dim(`by ${result.by ?? 'operator'}`)}`);
        else
          this.line(
            `${pc.cyan(`step ${result.index + 1}/${this.total}`)} approval ${pc.yellow(result.status)}`,
          );
        return;
    }
  }

  suiteFinished(report: SuiteReport): void {
    this.stop();
    const style = OUTCOME_STYLE[report.outcome];
    this.line(
      `${style(pc.bold(report.outcome === 'belowMinScore' ? 'BELOW MIN SCORE' : report.outcome.toUpperCase()))}  ${report.name}: score ${report.score}${report.minScore === undefined ? '' : ` (minimum ${report.minScore})`}`,
    );
    this.line(`  ${report.reason}`);
  }

  /** Stops redrawing while something else owns the terminal (an approval prompt). */
  suspend(): void {
    this.clear();
    this.suspended = true;
  }

  resume(): void {
    this.suspended = false;
    this.redraw();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.live = undefined;
    this.clear();
  }

  line(text: string): void {
    this.permanent(`${text}\n`);
  }

  private permanent(text: string): void {
    this.clear();
    this.out.write(text);
    this.written += 1;
    this.redraw();
  }

  private clear(): void {
    if (this.drawn === 0) return;
    // Up to the first line of the block, then erase to the end of the screen.
    this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private redraw(): void {
    if (!this.out.isTTY || this.suspended || this.live === undefined) return;
    const lines = this.block(this.live);
    const width = Math.max(20, (this.out.columns || 100) - 1);
    this.clear();
    // Lines are cut to the terminal's width: a wrapped line would throw the redraw count off.
    this.out.write(
      lines
        .map((line) => `${pc.dim(line.length > width ? `${line.slice(0, width - 1)}…` : line)}\n`)
        .join(''),
    );
    this.drawn = lines.length;
  }

  private block(live: Live): string[] {
    const elapsed = clock(Date.now() - live.startedAt);
    const { step } = live;
    if (step.type === 'pause') {
      const left = Math.max(0, step.durationMs - (Date.now() - live.startedAt));
      return [
        `⏸ ${live.position} · pause ${step.duration} · ${clock(left)} left${step.reason === undefined ? '' : ` · ${step.reason}`}`,
      ];
    }
    if (step.type === 'approval') return [`? ${live.position} · waiting for approval · ${elapsed}`];
    const faults = [...live.faults.values()];
    return [
      `▶ ${live.position} · ${step.name} · phase ${live.phase ?? 'starting'} · ${elapsed}`,
      `  probes: ${live.probes ?? 'no sample yet'}`,
      `  faults active: ${faults.length === 0 ? 'none' : faults.join(', ')}`,
    ];
  }
}

/** `01:05`, or `1:02:05` past an hour. */
function clock(ms: number): string {
  const total = Math.floor(ms / 1_000);
  const seconds = String(total % 60).padStart(2, '0');
  const minutes = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3_600);
  return hours > 0
    ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`
    : `${String(minutes).padStart(2, '0')}:${seconds}`;
}
