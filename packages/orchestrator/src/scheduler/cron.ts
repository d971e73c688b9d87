import { CronExpressionParser } from 'cron-parser';
import { validateDetailed } from 'node-cron';

const FIELD_NAMES: Record<string, string> = {
  second: 'second',
  minute: 'minute',
  hour: 'hour',
  dayOfMonth: 'day of month',
  month: 'month',
  dayOfWeek: 'day of week',
};

const FIELDS_HINT = '5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first';

/**
 * What is wrong with a cron expression, or undefined when it is fine. node-cron decides what is
 * valid; cron-parser, which computes the fire times, must read it too. An expression that
 * restricts both the day of month and the day of week is refused: classic cron (and cron-parser)
 * fires when either matches, node-cron only when both do, and a schedule must not mean two things.
 */
export function cronProblem(expression: string): string | undefined {
  const validation = validateDetailed(expression);
  if (!validation.valid) {
    const [first] = validation.errors;
    if (first === undefined || first.field === 'expression') {
      const fields = expression.trim().split(/\s+/).length;
      const got = first?.message.startsWith('expected')
        ? `${fields} fields`
        : (first?.message ?? 'something else');
      return `expected a cron expression of ${FIELDS_HINT}, got ${got}`;
    }
    const field = FIELD_NAMES[first.field] ?? first.field;
    if (first.message.includes('impossible day of month')) {
      return `day of month '${first.value ?? ''}' never happens in the months it names`;
    }
    return `'${first.value ?? ''}' is not a valid ${field}; expected ${FIELDS_HINT}`;
  }
  let parsed: ReturnType<typeof CronExpressionParser.parse>;
  try {
    parsed = CronExpressionParser.parse(expression, { tz: 'UTC' });
  } catch (error) {
    return `cron expression not supported: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (!parsed.fields.dayOfMonth.isWildcard && !parsed.fields.dayOfWeek.isWildcard) {
    return 'restricts both day of month and day of week, which cron implementations read differently (either one, or both, must match); restrict only one and write * for the other';
  }
  return undefined;
}

/** The first time strictly after `after` that `expression` matches on the wall clock of `timeZone`. */
export function nextCronFire(expression: string, timeZone: string, after: Date): Date {
  return cronFires(expression, timeZone, after)();
}

/** Successive fire times after `after`, each call the next one; cheaper than nextCronFire in a loop. */
export function cronFires(expression: string, timeZone: string, after: Date): () => Date {
  const parsed = CronExpressionParser.parse(expression, { tz: timeZone, currentDate: after });
  return () => parsed.next().toDate();
}
