import { type Logger, pino } from 'pino';

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** JSON logs on stderr (fd 2), written synchronously so nothing is lost when the CLI exits. */
export function createLogger(level: LogLevel, name = 'simian'): Logger {
  return pino(
    { name, level, redact: { paths: ['token', '*.token', 'headers.authorization'], censor: '[redacted]' } },
    pino.destination({ dest: 2, sync: true }),
  );
}
