/** What a command hands back to the one printer in main.ts. */
export interface CommandResult {
  exitCode: number;
  /** Printed on stdout unless --json. */
  human?: string;
  /** Printed on stdout with --json. */
  json?: unknown;
}
