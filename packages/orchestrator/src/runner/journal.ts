import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { targetSchema, wireFaultSchema } from '@simian/protocol';
import { z } from 'zod';

export const verdictSchema = z.enum(['passed', 'failed', 'aborted', 'error']);
export type Verdict = z.infer<typeof verdictSchema>;

const judgementSchema = z.strictObject({
  ok: z.boolean(),
  samples: z.number(),
  successRate: z.number(),
  p50: z.number().optional(),
  p95: z.number().optional(),
  p99: z.number().optional(),
  reason: z.string().optional(),
});
export type Judgement = z.infer<typeof judgementSchema>;

export const sampleSchema = z.strictObject({
  probe: z.string(),
  phase: z.enum(['before', 'during', 'after']),
  at: z.number(),
  latencyMs: z.number(),
  ok: z.boolean(),
  status: z.number().optional(),
  error: z.string().optional(),
});

export const faultRecordSchema = z.strictObject({
  faultId: z.string(),
  agent: z.string(),
  target: targetSchema,
  fault: wireFaultSchema,
  injectedAt: z.number().optional(),
  revertedAt: z.number().optional(),
  revertOutcome: z.string().optional(),
  revertReason: z.string().optional(),
  /** How the agent applied the fault. */
  detail: z.string().optional(),
  /** Network faults: the mechanism the agent used (netem, or the proxy when the kernel lacks it). */
  mechanism: z.string().optional(),
  /** What the agent said about the revert, e.g. why the target was gone. */
  revertDetail: z.string().optional(),
  error: z.string().optional(),
});
export type FaultRecord = z.infer<typeof faultRecordSchema>;

export const phaseRecordSchema = z.strictObject({
  name: z.enum(['resolve', 'before', 'inject', 'hold', 'revert', 'after']),
  startedAt: z.number(),
  endedAt: z.number().optional(),
});
export type PhaseName = z.infer<typeof phaseRecordSchema>['name'];

/** The complete record of one run. Times are epoch milliseconds. */
export const journalSchema = z.strictObject({
  apiVersion: z.literal('simian.dev/v1alpha1'),
  kind: z.literal('RunJournal'),
  runId: z.string(),
  experiment: z.strictObject({
    name: z.string(),
    file: z.string().optional(),
    description: z.string().optional(),
  }),
  seed: z.number(),
  startedAt: z.number(),
  endedAt: z.number(),
  verdict: verdictSchema,
  reason: z.string(),
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  phases: z.array(phaseRecordSchema),
  candidates: z.number(),
  targets: z.array(targetSchema),
  faults: z.array(faultRecordSchema),
  probes: z.array(
    z.strictObject({
      name: z.string(),
      before: judgementSchema.optional(),
      during: judgementSchema.optional(),
      after: judgementSchema.optional(),
    }),
  ),
  stopCondition: z.strictObject({ probe: z.string(), successRate: z.number(), at: z.number() }).optional(),
  /** From the end of the fault (its revert, or its injection for kill/restart) to steady state again. */
  timeToRecoverMs: z.number().nullable(),
  samples: z.array(sampleSchema),
});
export type Journal = z.infer<typeof journalSchema>;

export async function writeJournal(path: string, journal: Journal): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(journal, null, 2)}\n`);
}

/** Sortable, readable run ids: `20261122T021500Z-a1b2c3`. */
export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const suffix = Math.floor(Math.random() * 0xffffff)
    .toString(16)
    .padStart(6, '0');
  return `${stamp}-${suffix}`;
}
