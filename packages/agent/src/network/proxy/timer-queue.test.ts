import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { TimerQueue } from './timer-queue.js';

const queues: TimerQueue[] = [];

afterEach(() => {
  for (const queue of queues.splice(0)) queue.close();
});

function queue(): TimerQueue {
  const created = new TimerQueue();
  queues.push(created);
  return created;
}

/** Resolves once `count` tasks called `done`, or rejects after `timeoutMs`. */
function countdown(count: number, timeoutMs = 5_000) {
  let left = count;
  let resolve: () => void = () => undefined;
  const finished = new Promise<void>((res, reject) => {
    resolve = res;
    setTimeout(() => reject(new Error(`${left} of ${count} tasks did not run`)), timeoutMs).unref();
  });
  return {
    finished,
    done: () => {
      left -= 1;
      if (left === 0) resolve();
    },
  };
}

describe('TimerQueue', () => {
  it('runs tasks in due order, never before their due time, ties in scheduling order', async () => {
    const q = queue();
    const base = q.now();
    const ran: string[] = [];
    const early: string[] = [];
    const { finished, done } = countdown(6);
    const at = (name: string, offset: number): void => {
      q.schedule(base + offset, () => {
        if (performance.now() < base + offset) early.push(name);
        ran.push(name);
        done();
      });
    };
    at('c', 30);
    at('a', 5);
    at('d', 30);
    at('b', 12);
    at('past', -10);
    at('e', 60);
    await finished;
    expect(ran).toEqual(['past', 'a', 'b', 'c', 'd', 'e']);
    expect(early).toEqual([]);
    expect(q.lateness().count).toBe(6);
  });

  it('skips cancelled tasks and lets a task schedule the next one', async () => {
    const q = queue();
    const ran: number[] = [];
    const { finished, done } = countdown(3);
    const cancelled = q.schedule(q.now() + 5, () => ran.push(-1));
    q.cancel(cancelled);
    const chain = (n: number): void => {
      q.schedule(q.now() + 3, () => {
        ran.push(n);
        done();
        if (n < 3) chain(n + 1);
      });
    };
    chain(1);
    await finished;
    await sleep(20);
    expect(ran).toEqual([1, 2, 3]);
    expect(q.size).toBe(0);
  });

  it('runs nothing after close', async () => {
    const q = queue();
    let ran = false;
    q.schedule(q.now() + 5, () => {
      ran = true;
    });
    q.close();
    await sleep(30);
    expect(ran).toBe(false);
    expect(() => q.schedule(q.now(), () => undefined)).toThrow('closed');
  });
});
