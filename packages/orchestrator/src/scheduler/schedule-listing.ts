import { z } from 'zod';
import { verdictSchema } from '../runner/journal.js';
import type { SkipReason } from './decide.js';

/** Why a fire did not start a run (decide.ts, missed-runs.ts). */
export const skipReasonSchema = z.enum([
  'blackout',
  'outside-window',
  'target-busy',
  'no-targets',
  'not-opted-in',
  'missed',
]) satisfies z.ZodType<SkipReason>;

/** An instant in UTC and on the schedule's wall clock (next-fire.ts `FireTime`). */
export const fireTimeSchema = z.strictObject({
  utc: z.string(),
  local: z.string(),
  timeZone: z.string(),
});

/**
 * What the last fire of a schedule came to: a run (its verdict is in `lastRun`), a skip with its
 * reason, or an error. `note` says when the fire was a late one replayed after the orchestrator
 * was down. Times are ISO 8601 UTC.
 */
export const scheduleResultSchema = z.discriminatedUnion('outcome', [
  z.strictObject({
    outcome: z.literal('ran'),
    runId: z.string(),
    at: z.string(),
    note: z.string().optional(),
  }),
  z.strictObject({
    outcome: z.literal('skipped'),
    reason: skipReasonSchema,
    detail: z.string(),
    at: z.string(),
  }),
  /** The fire could not be decided or its run not started (an agent did not answer, say). */
  z.strictObject({ outcome: z.literal('error'), detail: z.string(), at: z.string() }),
]);
export type ScheduleResult = z.infer<typeof scheduleResultSchema>;

/** The last run a schedule started; verdict and reason once it has ended. */
export const scheduledRunSchema = z.strictObject({
  runId: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  verdict: verdictSchema.optional(),
  reason: z.string().optional(),
});
export type ScheduledRun = z.infer<typeof scheduledRunSchema>;

export const triggerListingSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('cron'), cron: z.string() }),
  z.strictObject({ kind: z.literal('random'), meanTimeBetween: z.string(), jitter: z.string() }),
]);

export const scheduleEntrySchema = z.strictObject({
  /** `metadata.name` of the experiment: names a schedule. */
  name: z.string(),
  file: z.string(),
  trigger: triggerListingSchema,
  timeZone: z.string(),
  targetGroup: z.string(),
  optInLabel: z.string(),
  nextFire: fireTimeSchema,
  /** Set when windows or blackouts already rule the next fire out. */
  nextFireSkip: z.strictObject({ reason: skipReasonSchema, detail: z.string() }).optional(),
  /** The first fire the calendar allows, when it is not the next one; null when none is in sight. */
  nextAllowedFire: fireTimeSchema.nullable().optional(),
  lastFire: fireTimeSchema.nullable(),
  lastResult: scheduleResultSchema.nullable(),
  lastRun: scheduledRunSchema.nullable(),
  /** The run this schedule started that is still in progress. */
  runningRunId: z.string().nullable(),
});
export type ScheduleEntry = z.infer<typeof scheduleEntrySchema>;

/** What `GET /v1/schedules` answers and `simian schedule` prints. */
export const scheduleListingSchema = z.strictObject({
  /** False when `simian serve` was started without `--experiments`. */
  enabled: z.boolean(),
  /** The directories watched for experiment files. */
  directories: z.array(z.string()),
  schedules: z.array(scheduleEntrySchema),
  /** Files that do not validate, each issue as `file:line:column: path: message`; they schedule nothing. */
  invalid: z.array(z.strictObject({ file: z.string(), errors: z.array(z.string()) })),
  /** Scheduled runs in progress, including those of schedules removed since they started. */
  activeRuns: z.array(
    z.strictObject({
      runId: z.string(),
      schedule: z.string(),
      targetGroup: z.string(),
      startedAt: z.string(),
    }),
  ),
});
export type ScheduleListing = z.infer<typeof scheduleListingSchema>;

/** The listing of an orchestrator that schedules nothing. */
export function emptyScheduleListing(): ScheduleListing {
  return { enabled: false, directories: [], schedules: [], invalid: [], activeRuns: [] };
}
