import { z } from 'zod';
import { API_VERSION } from '../experiments/schema.js';
import { onFailureSchema } from './schema.js';

/** What happened to an experiment step: a run's verdict, or `skipped` when it never ran. */
export const experimentStatusSchema = z.enum(['passed', 'failed', 'aborted', 'error', 'skipped']);
export type ExperimentStatus = z.infer<typeof experimentStatusSchema>;

/**
 * How a game day or a gate ends. The names are those of the exit-code table
 * (`cli/exit-codes.ts`), so the outcome is the exit code.
 */
export const outcomeSchema = z.enum(['passed', 'failed', 'aborted', 'error', 'belowMinScore']);
export type Outcome = z.infer<typeof outcomeSchema>;

/** A probe that missed its tolerance, or did not come back, and why. */
export const probeFailureSchema = z.strictObject({
  probe: z.string(),
  phase: z.enum(['before', 'during', 'after', 'recovery']),
  reason: z.string(),
});
export type ProbeFailure = z.infer<typeof probeFailureSchema>;

export const experimentResultSchema = z.strictObject({
  type: z.literal('experiment'),
  /** Index in the game day's `spec.steps` (or in the list of experiments given to `simian gate`). */
  index: z.number(),
  name: z.string(),
  file: z.string(),
  required: z.boolean(),
  weight: z.number(),
  status: experimentStatusSchema,
  /** The journal's reason, the tool error, or why the step was skipped. */
  reason: z.string(),
  runId: z.string().optional(),
  /** Where the run's journal was written. */
  journal: z.string().optional(),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
  failures: z.array(probeFailureSchema),
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  stopCondition: z.strictObject({ probe: z.string(), successRate: z.number(), at: z.number() }).optional(),
  timeToRecoverMs: z.number().nullable().optional(),
  /** Names of the targets hit. */
  targets: z.array(z.string()).optional(),
});
export type ExperimentResult = z.infer<typeof experimentResultSchema>;

export const pauseResultSchema = z.strictObject({
  type: z.literal('pause'),
  index: z.number(),
  duration: z.string(),
  reason: z.string().optional(),
  status: z.enum(['done', 'interrupted', 'skipped']),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
});

export const approvalResultSchema = z.strictObject({
  type: z.literal('approval'),
  index: z.number(),
  message: z.string(),
  status: z.enum(['approved', 'declined', 'skipped']),
  /** Who approved: the operator at the prompt, or `--yes` in advance. */
  by: z.enum(['operator', '--yes']).optional(),
  at: z.number().optional(),
});

export const stepResultSchema = z.discriminatedUnion('type', [
  experimentResultSchema,
  pauseResultSchema,
  approvalResultSchema,
]);
export type StepResult = z.infer<typeof stepResultSchema>;

/** The report of one game day (or of the experiments given to `simian gate` as one suite). */
export const suiteReportSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('GameDayReport'),
  /** Like a run id: `20261122T022457Z-f2e8db`. */
  id: z.string(),
  name: z.string(),
  /** The game-day file; absent for experiments given to `simian gate` directly. */
  file: z.string().optional(),
  description: z.string().optional(),
  onFailure: onFailureSchema,
  minScore: z.number().optional(),
  startedAt: z.number(),
  endedAt: z.number(),
  outcome: outcomeSchema,
  reason: z.string(),
  /** Resilience score, 0 to 100 (docs/gate.md). */
  score: z.number(),
  steps: z.array(stepResultSchema),
});
export type SuiteReport = z.infer<typeof suiteReportSchema>;

/** What `simian gate` decides, over one or more suites. */
export const gateReportSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('GateReport'),
  id: z.string(),
  startedAt: z.number(),
  endedAt: z.number(),
  /** `--min-score`, when given. */
  minScore: z.number().optional(),
  score: z.number(),
  outcome: outcomeSchema,
  reason: z.string(),
  exitCode: z.number(),
  suites: z.array(suiteReportSchema),
});
export type GateReport = z.infer<typeof gateReportSchema>;
