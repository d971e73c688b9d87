import { z } from 'zod';

/** How many of the matching targets a run hits. */
export type Mode =
  | { kind: 'one' }
  | { kind: 'all' }
  | { kind: 'count'; count: number }
  | { kind: 'percent'; percent: number };

const MODE_HELP = 'expected one | all | count:N (N at least 1) | percent:P (P from 1 to 100)';

export function parseMode(text: string): Mode | string {
  if (text === 'one') return { kind: 'one' };
  if (text === 'all') return { kind: 'all' };
  const count = /^count:(\d+)$/.exec(text);
  if (count) {
    const n = Number(count[1]);
    return n >= 1 ? { kind: 'count', count: n } : `count must be at least 1, got '${text}'`;
  }
  const percent = /^percent:(\d+)$/.exec(text);
  if (percent) {
    const p = Number(percent[1]);
    return p > 0 && p <= 100
      ? { kind: 'percent', percent: p }
      : `percent must be from 1 to 100, got '${text}'`;
  }
  return `${MODE_HELP}, got '${text}'`;
}

export const modeSchema = z.string({ error: MODE_HELP }).superRefine((text, ctx) => {
  const mode = parseMode(text);
  if (typeof mode === 'string') ctx.addIssue({ code: 'custom', message: mode });
});

/** How many targets a mode takes out of `available`: at least one, never more than asked. */
export function targetCount(mode: Mode, available: number): number {
  if (available === 0) return 0;
  switch (mode.kind) {
    case 'one':
      return 1;
    case 'all':
      return available;
    case 'count':
      return Math.min(mode.count, available);
    case 'percent':
      return Math.max(1, Math.floor((available * mode.percent) / 100));
  }
}
