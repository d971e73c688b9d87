import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DockerDriver, FaultRunner, Ledger, ProcessDriver, type TargetDriver } from '@simian/agent';
import type { Logger } from 'pino';

const LEDGER_FILE = /^(\d+)\.ledger\.json$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Each embedded `simian run` keeps its own ledger named after its pid, so concurrent runs never
 * revert each other's faults. A ledger whose process is gone was left by a run that crashed or
 * was killed: revert what it lists, then remove it.
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
    const pid = Number(LEDGER_FILE.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
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
