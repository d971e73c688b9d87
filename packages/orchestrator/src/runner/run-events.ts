import { targetSchema, wireFaultSchema } from '@simian/protocol';
import { z } from 'zod';
import { journalSchema, phaseRecordSchema, verdictSchema } from './journal.js';

export const planSchema = z.strictObject({
  runId: z.string(),
  experiment: z.string(),
  seed: z.number(),
  candidates: z.number(),
  targets: z.array(targetSchema),
  /** As they will be sent: a partition carries the peers it cuts off. */
  faults: z.array(wireFaultSchema),
  duration: z.string(),
  /** For each partition fault (by index in `faults`), the targets on its other side. */
  partitions: z.array(z.strictObject({ fault: z.number(), peers: z.array(targetSchema) })).optional(),
});
export type Plan = z.infer<typeof planSchema>;

const healthSchema = z.strictObject({
  name: z.string(),
  ok: z.number(),
  total: z.number(),
  successRate: z.number(),
  p95: z.number().optional(),
});

/** What a run tells its watcher as it goes; streamed as NDJSON by the HTTP API. */
export const runEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('started'),
    runId: z.string(),
    experiment: z.string(),
    seed: z.number(),
    at: z.number(),
  }),
  z.strictObject({
    type: z.literal('phase'),
    runId: z.string(),
    phase: phaseRecordSchema.shape.name,
    at: z.number(),
  }),
  z.strictObject({ type: z.literal('plan'), plan: planSchema }),
  z.strictObject({
    type: z.literal('injected'),
    runId: z.string(),
    faultId: z.string(),
    fault: z.string(),
    target: z.string(),
    agent: z.string(),
    at: z.number(),
    detail: z.string().optional(),
    mechanism: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('reverted'),
    runId: z.string(),
    faultId: z.string(),
    target: z.string(),
    at: z.number(),
    outcome: z.string(),
    reason: z.string(),
    detail: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('health'),
    runId: z.string(),
    phase: z.enum(['before', 'during', 'after']),
    probes: z.array(healthSchema),
  }),
  z.strictObject({
    type: z.literal('notice'),
    runId: z.string(),
    level: z.enum(['info', 'warn']),
    message: z.string(),
  }),
  z.strictObject({
    type: z.literal('verdict'),
    runId: z.string(),
    verdict: verdictSchema,
    reason: z.string(),
  }),
  z.strictObject({ type: z.literal('journal'), journal: journalSchema }),
  z.strictObject({
    type: z.literal('failure'),
    error: z.strictObject({ code: z.string(), message: z.string(), hint: z.string().optional() }),
  }),
]);
export type RunEvent = z.infer<typeof runEventSchema>;
