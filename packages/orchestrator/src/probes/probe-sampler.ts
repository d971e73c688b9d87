import { setTimeout as sleep } from 'node:timers/promises';
import { durationMs } from '@simian/protocol';
import type { Probe } from '../experiments/schema.js';
import type { Phase, ProbeSample } from './probe-sample.js';
import { runProbe } from './run-probe.js';

export interface ProbeSamplerOptions {
  /** Phase the first samples are tagged with. @default 'before' */
  phase?: Phase;
  /**
   * Called with every sample as it is taken. It must not throw: a throw ends sampling and is
   * rethrown by {@link ProbeSampler.stop}.
   */
  onSample?: (sample: ProbeSample) => void;
}

export type SamplerState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Runs every probe of an experiment on its own interval until stopped. The next attempt of a
 * probe starts `interval` after the previous one started, or as soon as it ends when it took
 * longer, so attempts of one probe never overlap.
 */
export class ProbeSampler {
  readonly #probes: readonly { probe: Probe; intervalMs: number }[];
  readonly #onSample: ((sample: ProbeSample) => void) | undefined;
  readonly #abort = new AbortController();
  readonly #samples: ProbeSample[] = [];
  #phase: Phase;
  #state: SamplerState = 'idle';
  #loops: Promise<unknown> = Promise.resolve();
  #stopped: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;

  /** `options` may be just the `onSample` callback. */
  constructor(probes: readonly Probe[], options: ProbeSamplerOptions | ((sample: ProbeSample) => void) = {}) {
    const { phase, onSample } =
      typeof options === 'function' ? { phase: undefined, onSample: options } : options;
    this.#probes = probes.map((probe) => {
      if (!probe.http && !probe.command)
        throw new Error(`probe '${probe.name}' has neither http nor command`);
      return { probe, intervalMs: durationMs(probe.interval) };
    });
    this.#phase = phase ?? 'before';
    this.#onSample = onSample;
  }

  get state(): SamplerState {
    return this.#state;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Tags attempts started from now on with `phase`. */
  setPhase(phase: Phase): void {
    this.#phase = phase;
  }

  start(): void {
    if (this.#state !== 'idle') throw new Error(`cannot start a probe sampler that is ${this.#state}`);
    this.#state = 'running';
    this.#loops = Promise.all(
      this.#probes.map(({ probe, intervalMs }) =>
        this.#sample(probe, intervalMs).catch((error: unknown) => {
          this.#failure ??= { error };
          this.#abort.abort();
        }),
      ),
    );
  }

  /** Every sample taken so far, in the order they were taken. */
  samples(): ProbeSample[] {
    return [...this.#samples];
  }

  /**
   * Aborts attempts in flight and resolves once every probe loop has ended. Attempts cut short
   * by stopping say nothing about the target, so they are not recorded; no sample is delivered
   * after this is called.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping';
    this.#abort.abort();
    await this.#loops;
    this.#state = 'stopped';
    if (this.#failure) throw this.#failure.error;
  }

  async #sample(probe: Probe, intervalMs: number): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const phase = this.#phase;
      const started = performance.now();
      const attempt = await runProbe(probe, signal);
      if (signal.aborted) return;
      const sample: ProbeSample = { probe: probe.name, phase, ...attempt };
      this.#samples.push(sample);
      this.#onSample?.(sample);
      const wait = intervalMs - (performance.now() - started);
      if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
  }
}
