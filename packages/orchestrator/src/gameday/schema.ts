import { durationSchema } from '@simian/protocol';
import { z } from 'zod';
import { API_VERSION, experimentSchema } from '../experiments/schema.js';

export const GAME_DAY_KIND = 'GameDay';

/** An experiment written into the game day; apiVersion and kind may be left out. */
export const inlineExperimentSchema = z.strictObject({
  apiVersion: experimentSchema.shape.apiVersion.optional(),
  kind: experimentSchema.shape.kind.optional(),
  metadata: experimentSchema.shape.metadata,
  spec: experimentSchema.shape.spec,
});
export type InlineExperiment = z.infer<typeof inlineExperimentSchema>;

const STEP_KINDS = ['experiment', 'inline', 'pause', 'approval'] as const;
/** Keys that only mean something on one kind of step. */
const STEP_ONLY: Record<string, readonly (typeof STEP_KINDS)[number][]> = {
  required: ['experiment', 'inline'],
  weight: ['experiment', 'inline'],
  reason: ['pause'],
};

/**
 * One step, written as an object with exactly one of its kind keys. A single strict object with
 * a refinement (rather than a union) keeps typo suggestions and points at the offending key.
 */
const stepSchema = z
  .strictObject({
    /** Path of an experiment file, relative to the game-day file. */
    experiment: z.string().min(1).optional(),
    /** An experiment written in place. */
    inline: inlineExperimentSchema.optional(),
    /** Wait this long before the next step. */
    pause: durationSchema.optional(),
    /** Why the pause, shown while waiting. */
    reason: z.string().optional(),
    /** Ask the operator this and wait for a yes before the next step. */
    approval: z.string().min(1).optional(),
    /** Whether the experiment must pass for the game day (and `simian gate`) to pass. @default true */
    required: z.boolean().optional(),
    /** The experiment's weight in the resilience score. @default 1 */
    weight: z.number().positive().max(1_000).optional(),
  })
  .superRefine((step, ctx) => {
    const kinds = STEP_KINDS.filter((kind) => step[kind] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `a step needs exactly one of ${STEP_KINDS.join(', ')} (found ${kinds.length === 0 ? 'none' : kinds.join(', ')})`,
      });
      return;
    }
    const [kind] = kinds;
    for (const [key, allowed] of Object.entries(STEP_ONLY)) {
      if (step[key as keyof typeof step] === undefined || kind === undefined || allowed.includes(kind))
        continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `${key} applies to ${allowed.join(' and ')} steps only, not to ${kind === 'approval' || kind === 'experiment' || kind === 'inline' ? 'an' : 'a'} ${kind} step`,
      });
    }
  })
  .transform((step): GameDayStep => {
    if (step.pause !== undefined)
      return {
        type: 'pause',
        duration: step.pause,
        ...(step.reason === undefined ? {} : { reason: step.reason }),
      };
    if (step.approval !== undefined) return { type: 'approval', message: step.approval };
    const common = { required: step.required ?? true, weight: step.weight ?? 1 };
    if (step.inline !== undefined) return { type: 'inline', inline: step.inline, ...common };
    // The refinement guarantees exactly one kind; what is left is the path.
    return { type: 'experiment', path: step.experiment ?? '', ...common };
  });

/** A step after parsing, told apart by `type`. */
export type GameDayStep =
  | { type: 'experiment'; path: string; required: boolean; weight: number }
  | { type: 'inline'; inline: InlineExperiment; required: boolean; weight: number }
  | { type: 'pause'; duration: string; reason?: string }
  | { type: 'approval'; message: string };

export const onFailureSchema = z.enum(['stop', 'continue']);
export type OnFailure = z.infer<typeof onFailureSchema>;

export const gameDaySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION, { error: `expected apiVersion ${API_VERSION}` }),
  kind: z.literal(GAME_DAY_KIND, { error: `expected kind ${GAME_DAY_KIND}` }),
  metadata: experimentSchema.shape.metadata,
  spec: z
    .strictObject({
      steps: z.array(stepSchema).min(1, 'a game day needs at least one step'),
      /** After a required experiment does not pass: stop (skip the rest) or continue. @default stop */
      onFailure: onFailureSchema.default('stop'),
      /** The game day passes only with a resilience score of at least this (0 to 100). */
      minScore: z.number().min(0).max(100).optional(),
    })
    .superRefine((spec, ctx) => {
      // This runs even when a step has issues of its own, and such a step is still as written.
      const isExperiment = (step: unknown): boolean => {
        const fields = step as Record<string, unknown>;
        return (
          fields.type === 'experiment' ||
          fields.type === 'inline' ||
          fields.experiment !== undefined ||
          fields.inline !== undefined
        );
      };
      if (spec.steps.length > 0 && !spec.steps.some(isExperiment)) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps'],
          message:
            'a game day needs at least one experiment or inline step; pauses and approvals alone test nothing',
        });
      }
    }),
});

export type GameDay = z.infer<typeof gameDaySchema>;
