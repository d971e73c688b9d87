import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DockerDriver,
  FaultRunner,
  Ledger,
  ProcessDriver,
  readProcStat,
  type TargetDriver,
} from '@simian/agent';
import type { Logger } from 'pino';

/** `<pid>-<starttime>.ledger.json`: the start time tells a live owner from a reused pid. */
const LEDGER_FILE = /^(\d+)-(\d+)\.ledger\.json$/;

export async function ownLedgerName(): Promise<string> {
  const stat = await readProcStat(process.pid);
  return `${process.pid}-${stat?.startTime ?? 0}.ledger.json`;
}

async function ownerAlive(pid: number, startTime: string): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.startTime === startTime;
}

/**
 * Each embedded `simian run` keeps its own ledger named after its pid and start time, so
 * concurrent runs never revert each other's faults. A ledger whose process is gone (or whose pid
 * now belongs to another process) was left by a run that crashed or was killed: revert what it
 * lists, then remove it.
 */
export async function recoverOrphanLedgers(dir: string, logger: Logger): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let reverted = 0;
  for (const name of names) {
    const match = LEDGER_FILE.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || (await ownerAlive(pid, match[2] as string))) continue;
    const path = join(dir, name);
    const ledger = await Ledger.open(path);
    if (ledger.entries().length > 0) {
      const drivers: TargetDriver[] = [];
      for (const driver of [new ProcessDriver(), new DockerDriver()])
        if (await driver.available()) drivers.push(driver);
      const runner = new FaultRunner({ ledger, drivers, logger });
      const events = await runner.recover();
      const left = runner.active().length;
      runner.close();
      reverted += events.length;
      logger.warn(
        { ledger: path, reverted: events.length },
        'reverted faults left by a simian run that did not finish',
      );
      if (left > 0) continue; // kept: the runner could not revert everything
    }
    await rm(path, { force: true });
  }
  return reverted;
}
