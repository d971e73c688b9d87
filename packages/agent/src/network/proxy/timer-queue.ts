import { performance } from 'node:perf_hooks';

/**
 * How long before a due time the queue stops sleeping on `setTimeout` and polls with
 * `setImmediate` instead. Node's timers have millisecond granularity and fire up to ~1 ms early
 * or late (their start time is the loop's cached, truncated clock), so a plain `setTimeout(delay)`
 * misses by about a millisecond; polling for the last stretch brings that to a few microseconds.
 * @default 1.5
 */
export const DEFAULT_SPIN_MS = 1.5;

/** A scheduled task; pass it to {@link TimerQueue.cancel}. */
export interface TimerHandle {
  /** When the task runs, on the `performance.now()` clock. */
  readonly due: number;
}

interface Entry extends TimerHandle {
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** How late tasks ran: percentiles from a histogram of 10 µs buckets (exact below 20 ms). */
export interface Lateness {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const BUCKET_MS = 0.01;
const BUCKETS = 2_000;

export interface TimerQueueOptions {
  /** @default DEFAULT_SPIN_MS */
  spinMs?: number;
}

/**
 * One shared, precise scheduler for many tasks: a min-heap by due time (`performance.now()`
 * milliseconds), one `setTimeout` that wakes a little before the earliest task, then
 * `setImmediate` polling until it is due. Every task due by then runs in the same turn, so
 * polling costs at most one core however many connections wait, and I/O keeps being served
 * between polls. Tasks with the same due time run in scheduling order.
 */
export class TimerQueue {
  readonly #spinMs: number;
  readonly #heap: Entry[] = [];
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer is meant to wake (`performance.now()` clock). */
  #timerWake = Number.POSITIVE_INFINITY;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;
  readonly #late = new Uint32Array(BUCKETS + 1);
  #lateCount = 0;
  #lateMax = 0;

  constructor(options: TimerQueueOptions = {}) {
    this.#spinMs = options.spinMs ?? DEFAULT_SPIN_MS;
  }

  /** The queue's clock. */
  now(): number {
    return performance.now();
  }

  /** Tasks waiting, including cancelled ones not yet discarded. */
  get size(): number {
    return this.#heap.length;
  }

  /** Runs `run` at `due` (`performance.now()` milliseconds); a due time in the past runs next turn. */
  schedule(due: number, run: () => void): TimerHandle {
    if (this.#closed) throw new Error('TimerQueue is closed');
    const entry: Entry = { due, seq: this.#seq++, run, cancelled: false };
    this.#push(entry);
    if (this.#heap[0] === entry) this.#arm();
    return entry;
  }

  /** Stops a task from running; cancelling one that ran or was cancelled does nothing. */
  cancel(handle: TimerHandle): void {
    // Lazy removal: the entry is dropped when it reaches the top of the heap.
    (handle as Entry).cancelled = true;
  }

  /** How late the tasks run so far were, from their due time to the turn that ran them. */
  lateness(): Lateness {
    const percentile = (q: number): number => {
      const rank = Math.max(1, Math.ceil(q * this.#lateCount));
      let seen = 0;
      for (let i = 0; i < this.#late.length; i += 1) {
        seen += this.#late[i] ?? 0;
        if (seen >= rank) return i === BUCKETS ? this.#lateMax : (i + 1) * BUCKET_MS;
      }
      return Number.NaN;
    };
    return { count: this.#lateCount, p50Ms: percentile(0.5), p99Ms: percentile(0.99), maxMs: this.#lateMax };
  }

  /** Drops every task and timer; the queue cannot be used afterwards. */
  close(): void {
    this.#closed = true;
    this.#heap.length = 0;
    this.#disarm();
  }

  #wake = (): void => {
    this.#timer = undefined;
    this.#timerWake = Number.POSITIVE_INFINITY;
    this.#immediate = undefined;
    const now = performance.now();
    try {
      for (let top = this.#heap[0]; top !== undefined && top.due <= now; top = this.#heap[0]) {
        this.#pop();
        if (top.cancelled) continue;
        this.#recordLateness(now - top.due);
        top.run();
      }
    } finally {
      // Re-armed even when a task throws, so one failure does not stall every other connection.
      if (!this.#closed) this.#arm();
    }
  };

  #recordLateness(ms: number): void {
    const bucket = Math.min(BUCKETS, Math.floor(ms / BUCKET_MS));
    this.#late[bucket] = (this.#late[bucket] ?? 0) + 1;
    this.#lateCount += 1;
    if (ms > this.#lateMax) this.#lateMax = ms;
  }

  #arm(): void {
    let top = this.#heap[0];
    while (top?.cancelled) {
      this.#pop();
      top = this.#heap[0];
    }
    if (top === undefined) {
      this.#disarm();
      return;
    }
    // Already polling: the next poll looks at the new top anyway.
    if (this.#immediate !== undefined) return;
    const wait = top.due - performance.now();
    if (wait <= this.#spinMs) {
      this.#clearTimer();
      // Not unref'd: the loop would then block in poll, with only an unref'd immediate pending.
      this.#immediate = setImmediate(this.#wake);
      return;
    }
    const wakeAt = top.due - this.#spinMs;
    if (this.#timer !== undefined && this.#timerWake <= wakeAt) return;
    this.#clearTimer();
    // An early wake (Node may fire up to ~1 ms early) finds nothing due and re-arms.
    this.#timer = setTimeout(this.#wake, Math.max(1, Math.floor(wait - this.#spinMs)));
    this.#timer.unref();
    this.#timerWake = wakeAt;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerWake = Number.POSITIVE_INFINITY;
  }

  #disarm(): void {
    this.#clearTimer();
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent] as Entry;
      if (!before(entry, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(heap[right] as Entry, heap[left] as Entry)) child = right;
      const smaller = heap[child] as Entry;
      if (!before(smaller, last)) break;
      heap[i] = smaller;
      i = child;
    }
    heap[i] = last;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
