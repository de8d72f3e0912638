/**
 * Per-phase wall-clock timings of one apply or commit, logged with its outcome (and read
 * by the haproxy benchmark): `mark(name)` records the time since the previous mark.
 */
export class Phases {
  readonly t0: number;
  private last: number;
  readonly ms: Record<string, number> = {};

  /** `t0`: when the work began, if before now (a request's arrival). */
  constructor(t0 = performance.now()) {
    this.t0 = t0;
    this.last = t0;
  }

  mark(name: string): void {
    const now = performance.now();
    this.ms[name] = Math.round(((this.ms[name] ?? 0) + now - this.last) * 10) / 10;
    this.last = now;
  }

  total(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }
}
