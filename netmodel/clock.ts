/** Time comes into netmodel as an argument. Milliseconds since an arbitrary epoch. */
export interface Clock {
  now(): number;
}

/** A clock tests advance by hand. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('ManualClock.advance: ms must be a non-negative number');
    this.t += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}
