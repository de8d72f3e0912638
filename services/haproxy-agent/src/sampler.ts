/**
 * The stats feed of one node: every `intervalMs` (2 s by default) `show info` + `show stat`
 * on the admin socket, turned into the stats service's `HaproxySample` contract
 * (`buildHaproxySample`, `proto/src/schemas/stats.ts`) and published on
 * `ep.v1.stats.samples.haproxy.<cluster>.<node>`. `GET …/stats` takes a fresh one.
 */
import { buildHaproxySample, type HaproxySample, type Logger, Subjects } from "@edgeplane/proto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { HaproxyProcess } from "./haproxy.ts";

export class Sampler {
  latest: HaproxySample[] | null = null;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  readonly o: {
    nc: NatsConnection;
    proc: HaproxyProcess;
    cluster: string;
    node: string;
    intervalMs: number;
    log: Logger;
    running: () => boolean;
  };
  constructor(o: Sampler["o"]) {
    this.o = o;
  }

  start(): void {
    if (this.o.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.o.running()) return;
    this.busy = true;
    try {
      const parts = await this.sample();
      const subject = Subjects.stats.haproxySamples(this.o.cluster, this.o.node);
      for (const p of parts) this.o.nc.publish(subject, JSON.stringify(p));
    } catch (err) {
      this.o.log.debug({ err }, "stats sample failed");
    } finally {
      this.busy = false;
    }
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
