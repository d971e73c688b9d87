/** The part of a run a sample was taken in. */
export type Phase = 'before' | 'during' | 'after';

/** One probe attempt, as kept in the run journal. */
export interface ProbeSample {
  /** Name of the probe in spec.steadyState.probes. */
  probe: string;
  /** Phase of the run when the attempt started. */
  phase: Phase;
  /** Epoch milliseconds when the attempt started. */
  at: number;
  /** How long the attempt took, including reading the whole response. */
  latencyMs: number;
  ok: boolean;
  /** HTTP status, when a response arrived. */
  status?: number;
  /** What was wrong, when the attempt failed. */
  error?: string;
}

/** The outcome of one attempt before the sampler names and tags it. */
export type ProbeAttempt = Omit<ProbeSample, 'probe' | 'phase'>;
