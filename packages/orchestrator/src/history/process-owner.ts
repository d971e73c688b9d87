import { readProcStat } from '@simian/agent';

/** A process named by pid and start time, so a reused pid is not taken for the same process. */
export interface ProcessOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat; empty where /proc is missing. */
  startTime: string;
}

let self: ProcessOwner | undefined;

export async function currentOwner(): Promise<ProcessOwner> {
  self ??= { pid: process.pid, startTime: (await readProcStat(process.pid))?.startTime ?? '' };
  return self;
}

/** Whether that process still runs (a zombie does not count). */
export async function isOwnerAlive(owner: ProcessOwner): Promise<boolean> {
  const me = await currentOwner();
  if (owner.pid === me.pid) return owner.startTime === me.startTime;
  if (me.startTime === '') {
    // No /proc (not Linux): the pid alone has to do.
    try {
      process.kill(owner.pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  const stat = await readProcStat(owner.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === owner.startTime;
}
