import { durationSchema, parseDuration } from '@simian/protocol';
import { z } from 'zod';
import { blackoutBounds, isLocalDate, isLocalDateTime } from '../scheduler/blackouts.js';
import { cronProblem } from '../scheduler/cron.js';
import { dayNames, isTimeZone } from '../scheduler/wall-clock.js';
import { parseClockTime } from '../scheduler/windows.js';
import { describeValue } from './format-issues.js';

/** Targets must carry this label before a scheduled run may choose them. */
export const DEFAULT_OPT_IN_LABEL = 'simian.dev/chaos=enabled';
/** The shortest meanTimeBetween: anything faster is a load test, not a schedule. */
export const MIN_MEAN_TIME_BETWEEN_MS = 60_000;

const CLOCK_TIME_PATTERN = '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$';
const DATE_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';
const BOUND_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2})?$';
const OPT_IN_LABEL = /^[^=\s]+=[^=\s]+$/;

const clockTimeSchema = z.string().regex(new RegExp(CLOCK_TIME_PATTERN), {
  error: (issue) => `expected a time HH:MM from 00:00 to 24:00, got ${describeValue(issue.input)}`,
});

const windowSchema = z
  .strictObject({
    /** Days the window starts on. @default every day */
    days: z
      .array(z.enum(dayNames))
      .min(1, 'a window needs at least one day')
      .default([...dayNames]),
    /** Wall-clock time the window opens, `HH:MM`, inclusive. */
    from: clockTimeSchema,
    /** Wall-clock time it closes, exclusive; earlier than `from` means the next day. */
    to: clockTimeSchema,
  })
  .superRefine((window, ctx) => {
    if (window.from === '24:00') {
      ctx.addIssue({
        code: 'custom',
        path: ['from'],
        message: "a window cannot open at 24:00; use 00:00 and the next day's name",
      });
    } else if (window.from === window.to && parseClockTime(window.from) !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `the window opens and closes at ${window.from}; for a whole day write from: '00:00', to: '24:00'`,
      });
    }
  });

/**
 * A whole day, or a range of days or wall-clock times. Only the shape is checked here: a failed
 * union would point at the list item, so the schedule's refinement checks the text field by field.
 */
const blackoutSchema = z.union([
  z.string().meta({ pattern: DATE_PATTERN, description: 'A whole day, YYYY-MM-DD.' }),
  z.strictObject({
    from: z
      .string()
      .meta({ pattern: BOUND_PATTERN, description: 'A day (from its start) or YYYY-MM-DDTHH:MM.' }),
    to: z
      .string()
      .meta({ pattern: BOUND_PATTERN, description: 'A day (to its end) or YYYY-MM-DDTHH:MM (exclusive).' }),
  }),
]);

const BOUND_MESSAGE = 'expected a day YYYY-MM-DD or a wall-clock time YYYY-MM-DDTHH:MM';

/** A message for text shaped like a day that the calendar does not have (2026-02-30). */
function notADay(text: string): string | undefined {
  const day = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2})?$/.exec(text)?.[1];
  return day !== undefined && !isLocalDate(day) ? `${day} is not a day of the calendar` : undefined;
}

/**
 * When the orchestrator's scheduler starts the experiment: `cron` for fixed times or
 * `meanTimeBetween` for random ones, limited to `windows`, never in `blackouts`, and only against
 * targets carrying `optInLabel`. docs/scheduling.md has the semantics.
 */
export const scheduleSchema = z
  .strictObject({
    /** Fixed fire times (node-cron syntax); the alternative to meanTimeBetween. */
    cron: z
      .string()
      .min(1)
      .superRefine((expression, ctx) => {
        const problem = cronProblem(expression);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .meta({ description: 'Fixed fire times: minute hour day-of-month month day-of-week.' })
      .optional(),
    /** IANA time zone of cron, windows and blackouts. @default UTC */
    timezone: z
      .string()
      .refine(isTimeZone, {
        error: (issue) =>
          `unknown time zone ${describeValue(issue.input)}; expected an IANA name such as Europe/Berlin, America/New_York or UTC`,
      })
      .meta({ description: 'IANA time zone of cron, windows and blackouts, e.g. Europe/Berlin.' })
      .default('UTC'),
    /** Random fire times, Chaos Monkey style: each gap is drawn from meanTimeBetween ± jitter. */
    meanTimeBetween: durationSchema.optional(),
    /** Half-width of the draw around meanTimeBetween. @default half of meanTimeBetween */
    jitter: durationSchema.optional(),
    /** Runs start only inside one of these. @default any time */
    windows: z
      .array(windowSchema)
      .min(1, 'an empty list of windows would never allow a run; leave windows out to allow any time')
      .optional(),
    /** Days and ranges in which nothing starts. @default [] */
    blackouts: z.array(blackoutSchema).default([]),
    /** `key=value` a target must carry to be chosen by a scheduled run. @default simian.dev/chaos=enabled */
    optInLabel: z
      .string()
      .regex(OPT_IN_LABEL, {
        error: (issue) =>
          `expected key=value, e.g. ${DEFAULT_OPT_IN_LABEL}, got ${describeValue(issue.input)}`,
      })
      .meta({ description: 'key=value a target must carry to be chosen by a scheduled run.' })
      .default(DEFAULT_OPT_IN_LABEL),
    /** Runs of the same group never overlap. @default the driver and selector */
    targetGroup: z
      .string()
      .min(1)
      .meta({ description: 'Runs of the same group never overlap; defaults to the driver and selector.' })
      .optional(),
  })
  .superRefine((schedule, ctx) => {
    if (schedule.cron === undefined && schedule.meanTimeBetween === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a schedule needs cron (fixed times) or meanTimeBetween (random times)',
      });
    }
    if (schedule.cron !== undefined && schedule.meanTimeBetween !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['meanTimeBetween'],
        message:
          'cron and meanTimeBetween are alternatives; keep cron for fixed times or meanTimeBetween for random ones',
      });
    }
    const mean = schedule.meanTimeBetween === undefined ? undefined : parseDuration(schedule.meanTimeBetween);
    if (mean !== undefined && mean < MIN_MEAN_TIME_BETWEEN_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['meanTimeBetween'],
        message: `meanTimeBetween must be at least 1m, got ${schedule.meanTimeBetween}`,
      });
    }
    if (schedule.jitter !== undefined) {
      const jitter = parseDuration(schedule.jitter);
      if (schedule.meanTimeBetween === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['jitter'],
          message: 'jitter spreads meanTimeBetween; a cron schedule fires at its exact times',
        });
      } else if (jitter !== undefined && mean !== undefined && jitter >= mean) {
        ctx.addIssue({
          code: 'custom',
          path: ['jitter'],
          message: `jitter ${schedule.jitter} must be shorter than meanTimeBetween ${schedule.meanTimeBetween}, or two runs could start at once`,
        });
      }
    }
    schedule.blackouts.forEach((blackout, index) => {
      if (typeof blackout === 'string') {
        if (!isLocalDate(blackout)) {
          ctx.addIssue({
            code: 'custom',
            path: ['blackouts', index],
            message:
              notADay(blackout) ??
              `expected a day YYYY-MM-DD or a range {from, to}, got ${describeValue(blackout)}`,
          });
        }
        return;
      }
      let valid = true;
      for (const end of ['from', 'to'] as const) {
        if (!isLocalDate(blackout[end]) && !isLocalDateTime(blackout[end])) {
          valid = false;
          ctx.addIssue({
            code: 'custom',
            path: ['blackouts', index, end],
            message: notADay(blackout[end]) ?? `${BOUND_MESSAGE}, got ${describeValue(blackout[end])}`,
          });
        }
      }
      if (!valid) return;
      const { start, end } = blackoutBounds(blackout);
      if (start >= end) {
        ctx.addIssue({
          code: 'custom',
          path: ['blackouts', index, 'to'],
          message: `the blackout ends before it starts (from ${blackout.from}, to ${blackout.to})`,
        });
      }
    });
  });

export type Schedule = z.infer<typeof scheduleSchema>;
