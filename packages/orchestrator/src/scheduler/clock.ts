/** Where the scheduler reads the time, so tests can set it instead of sleeping. */
export interface Clock {
  now(): Date;
}

/** The machine's clock. */
export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start: Date | string | number) {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  set(at: Date | string | number): void {
    this.#now = new Date(at).getTime();
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}
