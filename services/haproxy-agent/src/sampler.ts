/**
 * The stats feed of one node: every `intervalMs` (2 s by default) `show info` + `show stat`
 * on the admin socket, turned into the stats service's `HaproxySample` contract
 * (`buildHaproxySample`, `proto/src/schemas/stats.ts`) and published on
 * `ep.v1.stats.samples.haproxy.<cluster>.<node>`. `GET …/stats` takes a fresh one.
 */
import { buildHaproxySample, type HaproxySample, type Logger, Subjects } from "@edgeplane/proto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { HaproxyProcess } from "./haproxy.ts";

/** How often a deferred sample asks again whether the apply is over. */
const DEFER_RETRY_MS = 50;

export class Sampler {
  latest: HaproxySample[] | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** When the next sample is due (Date.now() ms). */
  private due = 0;
  readonly o: {
    nc: NatsConnection;
    proc: HaproxyProcess;
    cluster: string;
    node: string;
    intervalMs: number;
    log: Logger;
    running: () => boolean;
    /**
     * True while an apply is under way (`NodeAgent.held`): a due sample waits for its end,
     * for at most one interval. At 10,000 backends a sample is ~60 ms of this process's
     * time and a `show stat` of the worker's, taken otherwise in the middle of a check or
     * a reload more often than not.
     */
    deferWhile?: () => boolean;
  };
  constructor(o: Sampler["o"]) {
    this.o = o;
  }

  start(): void {
    if (this.o.intervalMs <= 0) return;
    this.due = Date.now() + this.o.intervalMs;
    this.arm(this.o.intervalMs);
  }
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, ms));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const late = Date.now() - this.due;
    if (this.o.deferWhile?.() && late < this.o.intervalMs) {
      this.arm(DEFER_RETRY_MS);
      return;
    }
    if (this.o.running()) {
      try {
        const parts = await this.sample();
        const subject = Subjects.stats.haproxySamples(this.o.cluster, this.o.node);
        for (const p of parts) this.o.nc.publish(subject, JSON.stringify(p));
      } catch (err) {
        this.o.log.debug({ err }, "stats sample failed");
      }
    }
    // The cadence is kept (a deferred sample does not move the next one), but two samples
    // are never closer than half an interval.
    const now = Date.now();
    this.due = Math.max(this.due + this.o.intervalMs, now + this.o.intervalMs / 2);
    this.arm(this.due - now);
  }

  /** Take a sample now (also kept as the latest). */
  async sample(): Promise<HaproxySample[]> {
    const info = await this.o.proc.admin("show info");
    const stat = await this.o.proc.admin("show stat");
    const parts = buildHaproxySample({
      cluster: this.o.cluster,
      node: this.o.node,
      ts: Date.now(),
      intervalMs: Math.max(1, this.o.intervalMs),
      info,
      stat,
    });
    this.latest = parts;
    return parts;
  }
}
