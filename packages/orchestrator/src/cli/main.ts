#!/usr/bin/env node
import { capabilitySchema, isSimianError, SimianError } from '@simian/protocol';
import { Command, CommanderError, Option } from 'commander';
import { agentCommand, agentFlagsSchema } from './commands/agent.js';
import { agentsCommand } from './commands/agents.js';
import type { CommandResult } from './commands/command-result.js';
import { gameDayCommand, gameDayFlagsSchema } from './commands/gameday.js';
import { gateCommand, gateFlagsSchema, minScoreFlag } from './commands/gate.js';
import { reportCommand, reportFlagsSchema } from './commands/report.js';
import { runCommand, runFlagsSchema } from './commands/run.js';
import { LIMIT_RANGE, runsCommand, runsFlagsSchema, timeBoundFlag, verdictFlag } from './commands/runs.js';
import { DEFAULT_ORCHESTRATOR_URL, scheduleCommand, scheduleFlagsSchema } from './commands/schedule.js';
import { serveCommand, serveFlagsSchema } from './commands/serve.js';
import { validateCommand } from './commands/validate.js';
import { exitCodeForError, exitCodes } from './exit-codes.js';
import { createLogger, type LogLevel, logLevels } from './logger.js';
import {
  durationFlag,
  intFlag,
  labelFlag,
  listenFlag,
  MIN_LEASE_MS,
  orchestratorUrlFlag,
} from './parse-flags.js';

const stdout = { write: (text: string) => process.stdout.write(text), isTTY: process.stdout.isTTY === true };
const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** First SIGINT/SIGTERM: halt gracefully (faults reverted). Second SIGINT: leave now. */
function shutdownSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.stderr.write(
        `simian: second ${name}: exiting now; a remote agent reverts what is left when its lease runs out, an embedded run's faults are reverted by the next simian run\n`,
      );
      process.exit(exitCodes.aborted);
    }
    process.stderr.write(
      `simian: ${name}: halting, reverting every active fault (press Ctrl-C again to leave at once)\n`,
    );
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

function emit(result: CommandResult, json: boolean): void {
  if (json && result.json !== undefined) print(JSON.stringify(result.json, null, 2));
  else if (!json && result.human !== undefined) print(result.human);
  process.exitCode = result.exitCode;
}

function levelOf(command: Command, fallback: LogLevel): LogLevel {
  return (command.optsWithGlobals().logLevel as LogLevel | undefined) ?? fallback;
}

const tokenFileOption = () =>
  new Option('--token-file <file>', 'read the shared token from this file (else SIMIAN_TOKEN)');
const orchestratorOption = () =>
  new Option('--orchestrator <url>', 'orchestrator URL, e.g. http://127.0.0.1:7340').argParser(
    orchestratorUrlFlag,
  );

export function buildProgram(): Command {
  const program = new Command('simian')
    .description('Chaos experiments with a steady-state hypothesis, on processes, Docker and Kubernetes.')
    .version('0.1.0')
    .addOption(new Option('--log-level <level>', 'JSON logs on stderr at this level').choices(logLevels))
    .option('--debug', 'print stacks with errors')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('validate')
    .description('check experiment files (and directories of them) against the schema')
    .argument('<paths...>', 'files or directories')
    .option('--json', 'machine-readable output')
    .action(async (paths: string[], options: { json?: boolean }) => {
      emit(await validateCommand(paths), options.json === true);
    });

  program
    .command('run')
    .description('run one experiment and print its verdict')
    .argument('<file>', 'experiment file')
    .addOption(orchestratorOption())
    .option('--dry-run', 'show the targets and faults that would be hit; touch nothing', false)
    .addOption(
      new Option('--seed <n>', 'make target choice reproducible').argParser(intFlag('--seed', 0, 2 ** 31)),
    )
    .option('--json', 'print the journal (or the plan) as JSON on stdout', false)
    .option('--journal <file>', 'write the journal here (default: $SIMIAN_STATE_DIR/runs/<run-id>.json)')
    .addOption(
      new Option(
        '--lease <duration>',
        "how long agents keep a fault without hearing from the orchestrator (default: the orchestrator's, 30s embedded)",
      ).argParser(durationFlag('--lease', MIN_LEASE_MS)),
    )
    .addOption(tokenFileOption())
    .action(async (file: string, options: Record<string, unknown>, command: Command) => {
      const logger = createLogger(levelOf(command, 'warn'));
      const flags = runFlagsSchema.parse(options);
      const result = await runCommand(file, flags, stdout, logger, shutdownSignal());
      emit(result, flags.json);
    });

  const leaseOption = () =>
    new Option(
      '--lease <duration>',
      "how long agents keep a fault without hearing from the orchestrator (default: the orchestrator's, 30s embedded)",
    ).argParser(durationFlag('--lease', MIN_LEASE_MS));
  const suiteOutput = () => ({ ...stdout, columns: process.stdout.columns });
  const terminal = { input: process.stdin, output: process.stdout };

  program
    .command('gameday')
    .description(
      'run a game day: experiments, pauses and approvals in order, with live progress and a report',
    )
    .argument('<file>', 'game-day file')
    .addOption(orchestratorOption())
    .option('--yes', 'approve every approval step in advance (needed without a terminal)', false)
    .option('--report <dir>', 'write the reports here (default: $SIMIAN_STATE_DIR/gamedays/<id>/)')
    .option('--json', 'no progress; print the report as JSON on stdout', false)
    .addOption(leaseOption())
    .addOption(tokenFileOption())
    .action(async (file: string, options: Record<string, unknown>, command: Command) => {
      const logger = createLogger(levelOf(command, 'warn'));
      const flags = gameDayFlagsSchema.parse(options);
      const result = await gameDayCommand(file, flags, suiteOutput(), terminal, logger, shutdownSignal());
      emit(result, flags.json);
    });

  program
    .command('gate')
    .description('run experiments or a game day for a release pipeline; exit 0 only when they pass')
    .argument('<paths...>', 'experiment files, directories of them, or game-day files')
    .addOption(
      new Option('--min-score <n>', 'lowest resilience score (0 to 100) that passes').argParser(minScoreFlag),
    )
    .option('--junit <file>', 'write JUnit XML here')
    .option(
      '--report <dir>',
      'write the JSON and Markdown reports here (default: $SIMIAN_STATE_DIR/gates/<id>/)',
    )
    .addOption(orchestratorOption())
    .option('--yes', 'approve every approval step of a game day in advance', false)
    .option('--json', 'no progress; print the gate report as JSON on stdout', false)
    .addOption(leaseOption())
    .addOption(tokenFileOption())
    .action(async (paths: string[], options: Record<string, unknown>, command: Command) => {
      const logger = createLogger(levelOf(command, 'warn'));
      const flags = gateFlagsSchema.parse(options);
      const result = await gateCommand(paths, flags, suiteOutput(), terminal, logger, shutdownSignal());
      emit(result, flags.json);
    });

  program
    .command('serve')
    .description('run the orchestrator: the WebSocket hub for agents and the HTTP API')
    .addOption(
      new Option('--listen <host:port>', 'address to listen on')
        .default({ host: '127.0.0.1', port: 7340 }, '127.0.0.1:7340')
        .argParser(listenFlag),
    )
    .addOption(
      new Option('--lease <duration>', 'lease given to agents for every fault')
        .default(30_000, '30s')
        .argParser(durationFlag('--lease', MIN_LEASE_MS)),
    )
    .addOption(
      new Option('--heartbeat <duration>', 'how often agents are pinged')
        .default(5_000, '5s')
        .argParser(durationFlag('--heartbeat', 100)),
    )
    .option(
      '--experiments <dir>',
      'run the spec.schedule of the experiments in this directory, reloaded on change (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .addOption(tokenFileOption())
    .action(async (options: Record<string, unknown>, command: Command) => {
      const logger = createLogger(levelOf(command, 'info'));
      const result = await serveCommand(serveFlagsSchema.parse(options), logger, shutdownSignal(), print);
      emit(result, false);
    });

  program
    .command('agent')
    .description('run the agent daemon: dial the orchestrator and execute faults on this host')
    .addOption(orchestratorOption().makeOptionMandatory())
    .option('--name <name>', 'agent name (default: hostname)')
    .option('--zone <zone>', 'zone this host is in')
    .option('--region <region>', 'region this host is in')
    .option('--label <key=value>', 'a label for this agent (repeatable)', labelFlag, {})
    .addOption(
      new Option(
        '--driver <driver>',
        'offer only this driver (repeatable; default: every available one)',
      ).argParser((value: string, previous: string[] | undefined) => {
        const parsed = capabilitySchema.safeParse(value);
        if (!parsed.success)
          throw new SimianError(
            'SIMIAN_USAGE',
            `--driver: expected one of ${capabilitySchema.options.join(' | ')}, got ${JSON.stringify(value)}`,
          );
        return [...(previous ?? []), parsed.data];
      }),
    )
    .option('--ledger <file>', 'fault ledger file (default: $SIMIAN_STATE_DIR/agent-<name>.ledger.json)')
    .addOption(tokenFileOption())
    .action(async (options: Record<string, unknown>, command: Command) => {
      const logger = createLogger(levelOf(command, 'info'));
      const result = await agentCommand(agentFlagsSchema.parse(options), logger, shutdownSignal(), print);
      emit(result, false);
    });

  program
    .command('agents')
    .description('list the agents connected to an orchestrator')
    .addOption(orchestratorOption().makeOptionMandatory())
    .addOption(tokenFileOption())
    .option('--json', 'machine-readable output', false)
    .action(async (options: { orchestrator: URL; tokenFile?: string; json: boolean }) => {
      emit(await agentsCommand(options.orchestrator, options.tokenFile), options.json);
    });

  program
    .command('schedule')
    .description("list an orchestrator's schedules: next fires, last results and skip reasons")
    .addOption(orchestratorOption().default(new URL(DEFAULT_ORCHESTRATOR_URL), DEFAULT_ORCHESTRATOR_URL))
    .addOption(tokenFileOption())
    .option('--json', 'machine-readable output', false)
    .action(async (options: Record<string, unknown>) => {
      const flags = scheduleFlagsSchema.parse(options);
      emit(await scheduleCommand(flags), flags.json);
    });

  program
    .command('runs')
    .description("list recorded runs, newest first (the local history, or an orchestrator's)")
    .addOption(orchestratorOption())
    .option('--experiment <name>', 'only runs of this experiment')
    .addOption(
      new Option('--verdict <verdict>', 'only runs with this verdict (or running)').argParser(verdictFlag),
    )
    .addOption(
      new Option(
        '--since <date>',
        'only runs started at or after: 2026-11-22, 2026-11-22T10:00 (UTC), 24h',
      ).argParser(timeBoundFlag('--since')),
    )
    .addOption(
      new Option('--until <date>', 'only runs started before this').argParser(timeBoundFlag('--until')),
    )
    .addOption(
      new Option('--limit <n>', 'at most this many runs (default 50)').argParser(
        intFlag('--limit', ...LIMIT_RANGE),
      ),
    )
    .option('--json', 'machine-readable output', false)
    .addOption(tokenFileOption())
    .action(async (options: Record<string, unknown>) => {
      const flags = runsFlagsSchema.parse(options);
      emit(await runsCommand(flags), flags.json);
    });

  program
    .command('report')
    .description('show one recorded run; --html writes a self-contained HTML report')
    .argument('<run-id>', 'as `simian runs` lists it')
    .addOption(orchestratorOption())
    .option('--html <file>', 'write the HTML report (charts of every probe) to this file')
    .option('--json', 'print the run and its journal as JSON', false)
    .addOption(tokenFileOption())
    .action(async (runId: string, options: Record<string, unknown>) => {
      const flags = reportFlagsSchema.parse(options);
      emit(await reportCommand(runId, flags), flags.json);
    });

  return program;
}

/** The one place errors are printed: message and hint, a stack only with --debug. */
function report(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.code === 'commander.help'
    ) {
      return exitCodes.passed;
    }
    return exitCodes.invalid; // commander already printed the message and the help
  }
  if (isSimianError(error)) {
    process.stderr.write(`simian: ${error.message}\n`);
    if (error.hint) process.stderr.write(`  hint: ${error.hint}\n`);
    process.stderr.write(`  (${error.code})\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCodeForError(error.code);
  }
  const err = error as Error;
  process.stderr.write(`simian: internal error: ${err.message}\n`);
  process.stderr.write(debug && err.stack ? `${err.stack}\n` : '  (run again with --debug for the stack)\n');
  return exitCodes.error;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    // Commander wraps errors thrown by argParser; unwrap ours.
    process.exitCode = report(error, argv.includes('--debug'));
  }
}

await main(process.argv);
