import { SimianError } from '@simian/protocol';
import { z } from 'zod';
import {
  type ScheduleEntry,
  type ScheduleListing,
  scheduleListingSchema,
} from '../../scheduler/schedule-listing.js';
import { exitCodes } from '../exit-codes.js';
import { callApi } from '../run-client.js';
import { requireToken } from '../token.js';
import type { CommandResult } from './command-result.js';

/** Where `simian serve` listens unless told otherwise. */
export const DEFAULT_ORCHESTRATOR_URL = 'http://127.0.0.1:7340';

export const scheduleFlagsSchema = z.strictObject({
  orchestrator: z.instanceof(URL).default(() => new URL(DEFAULT_ORCHESTRATOR_URL)),
  tokenFile: z.string().optional(),
  json: z.boolean().default(false),
});
export type ScheduleFlags = z.infer<typeof scheduleFlagsSchema>;

/** `simian schedule`: the orchestrator's schedules, their next fires and what the last one came to. */
export async function scheduleCommand(flags: ScheduleFlags): Promise<CommandResult> {
  const token = await requireToken(flags.tokenFile, 'simian schedule');
  const response = await callApi(flags.orchestrator, token, '/v1/schedules');
  const parsed = scheduleListingSchema.safeParse(await response.json());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SimianError(
      'SIMIAN_BAD_MESSAGE',
      `the orchestrator's schedule listing does not match the schema: ${issue?.path.join('.')}: ${issue?.message}`,
      { hint: 'use the same simian version for the CLI and `simian serve`' },
    );
  }
  return { exitCode: exitCodes.passed, human: formatScheduleListing(parsed.data), json: parsed.data };
}

/** The listing as `simian schedule` prints it: a table, then details and invalid files. */
export function formatScheduleListing(listing: ScheduleListing): string {
  if (!listing.enabled) {
    return 'this orchestrator runs no schedules: start `simian serve` with --experiments DIR';
  }
  const lines: string[] = [];
  if (listing.schedules.length === 0) {
    lines.push(`no scheduled experiments in ${listing.directories.join(', ')}`);
  } else {
    const header = ['NAME', 'TRIGGER', 'NEXT FIRE (ZONE)', 'NEXT FIRE (UTC)', 'LAST RESULT'];
    const rows = listing.schedules.map((entry) => [
      entry.name,
      describeTrigger(entry),
      `${entry.nextFire.local} ${entry.timeZone}`,
      entry.nextFire.utc,
      describeLast(entry),
    ]);
    lines.push(...table([header, ...rows]));
    const details = listing.schedules.flatMap((entry) => detailsOf(entry));
    if (details.length > 0) lines.push('', ...details);
  }
  const orphans = listing.activeRuns.filter(
    (run) => !listing.schedules.some((entry) => entry.runningRunId === run.runId),
  );
  for (const run of orphans) {
    lines.push(`run ${run.runId} of removed schedule ${run.schedule} is still in progress`);
  }
  if (listing.invalid.length > 0) {
    lines.push('', `invalid files (nothing in them is scheduled until they are fixed):`);
    for (const file of listing.invalid) lines.push(...file.errors.map((error) => `  ${error}`));
  }
  return lines.join('\n');
}

function describeTrigger(entry: ScheduleEntry): string {
  return entry.trigger.kind === 'cron'
    ? `cron ${entry.trigger.cron}`
    : `every ~${entry.trigger.meanTimeBetween} ±${entry.trigger.jitter}`;
}

function describeLast(entry: ScheduleEntry): string {
  if (entry.runningRunId !== null) return `running ${entry.runningRunId}`;
  const last = entry.lastResult;
  if (last === null) return '-';
  if (last.outcome === 'skipped') return `skipped: ${last.reason}`;
  if (last.outcome === 'error') return 'error';
  const run = entry.lastRun;
  return run?.runId === last.runId && run.verdict !== undefined
    ? `${run.verdict} ${run.runId}`
    : `ran ${last.runId}`;
}

/** Lines under the table: why the last fire was skipped, and what the calendar does to the next. */
function detailsOf(entry: ScheduleEntry): string[] {
  const lines: string[] = [];
  const last = entry.lastResult;
  if (last?.outcome === 'skipped' || last?.outcome === 'error') {
    lines.push(`${entry.name}: last fire ${entry.lastFire?.utc ?? last.at}: ${last.detail}`);
  } else if (last?.outcome === 'ran' && last.note !== undefined) {
    lines.push(`${entry.name}: ${last.note}`);
  }
  if (last?.outcome !== 'ran' && entry.lastRun?.verdict !== undefined) {
    lines.push(`${entry.name}: last run ${entry.lastRun.runId}: ${entry.lastRun.verdict}`);
  }
  if (entry.nextFireSkip !== undefined) {
    const allowed =
      entry.nextAllowedFire === undefined
        ? ''
        : entry.nextAllowedFire === null
          ? '; no allowed fire in sight'
          : `; next allowed fire ${entry.nextAllowedFire.local} (${entry.nextAllowedFire.utc})`;
    lines.push(`${entry.name}: next fire will be skipped (${entry.nextFireSkip.reason})${allowed}`);
  }
  return lines;
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
