/**
 * Per-phase wall-clock timings of one apply or commit, logged with its outcome (and read
 * by the haproxy benchmark): `mark(name)` records the time since the previous mark.
 */
export class Phases {
  readonly t0 = performance.now();
  private last = this.t0;
  readonly ms: Record<string, number> = {};

  mark(name: string): void {
    const now = performance.now();
    this.ms[name] = Math.round(((this.ms[name] ?? 0) + now - this.last) * 10) / 10;
    this.last = now;
  }

  total(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }
}
