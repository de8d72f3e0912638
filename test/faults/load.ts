/**
 * A steady, bounded load of mixed API requests: reads at a fixed rate shared by a few
 * workers (a slow answer delays that worker, never piles requests up), and writes at
 * their own low rate, each write recorded only once it is acknowledged. Every request
 * is accounted for: status, latency, and whether it is idempotent.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface Read {
  name: string;
  path: string;
  weight: number;
  /** Sends the API key. */
  auth?: boolean;
}

export interface Write {
  name: string;
  /** Performs one write; resolves with its HTTP status and, when acknowledged, the id. */
  run(base: string): Promise<{ status: number; id?: string }>;
  /** Writes per second. */
  rate: number;
  /** At most this many writes per run. */
  max: number;
}

export interface Sample {
  name: string;
  idempotent: boolean;
  status: number;
  ms: number;
  error?: string;
}

export interface LoadReport {
  requests: number;
  reads: number;
  writes: number;
  failedReads: number;
  failedWrites: number;
  /** Ids of acknowledged writes. */
  acknowledged: string[];
  p50: number;
  p99: number;
  max: number;
  seconds: number;
  /** The first few failures, for the assertion message. */
  failures: string[];
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);

export class Load {
  readonly #base: string;
  readonly #key: string;
  readonly #reads: Read[];
  readonly #write: Write | undefined;
  readonly #rate: number;
  readonly #workers: number;
  #running = false;
  #tasks: Promise<void>[] = [];
  #samples: Sample[] = [];
  #acked: string[] = [];
  #started = 0;

  constructor(opts: {
    base: string;
    key: string;
    reads: Read[];
    write?: Write;
    rate: number;
    workers?: number;
  }) {
    this.#base = opts.base;
    this.#key = opts.key;
    this.#reads = opts.reads;
    this.#write = opts.write;
    this.#rate = opts.rate;
    this.#workers = opts.workers ?? 8;
  }

  #pick(): Read {
    const total = this.#reads.reduce((s, r) => s + r.weight, 0);
    let x = Math.random() * total;
    for (const r of this.#reads) {
      x -= r.weight;
      if (x <= 0) return r;
    }
    return this.#reads[0] as Read;
  }

  async #read(r: Read): Promise<void> {
    const t0 = performance.now();
    try {
      const res = await fetch(`${this.#base}${r.path}`, {
        headers: r.auth ? { authorization: `Bearer ${this.#key}` } : {},
        signal: AbortSignal.timeout(30_000),
      });
      const body = await res.text();
      const s: Sample = { name: r.name, idempotent: true, status: res.status, ms: performance.now() - t0 };
      if (res.status >= 300) s.error = body.slice(0, 300);
      this.#samples.push(s);
    } catch (err) {
      this.#samples.push({
        name: r.name,
        idempotent: true,
        status: 0,
        ms: performance.now() - t0,
        error: String(err),
      });
    }
  }

  start(): void {
    this.#running = true;
    this.#samples = [];
    this.#acked = [];
    this.#started = performance.now();
    let slot = 0;
    const interval = 1000 / this.#rate;
    for (let i = 0; i < this.#workers; i++) {
      this.#tasks.push(
        (async () => {
          while (this.#running) {
            const due = this.#started + slot++ * interval;
            const wait = due - performance.now();
            if (wait > 0) await sleep(wait);
            if (!this.#running) break;
            await this.#read(this.#pick());
          }
        })(),
      );
    }
    const w = this.#write;
    if (w) {
      this.#tasks.push(
        (async () => {
          for (let n = 0; this.#running && n < w.max; n++) {
            await sleep(1000 / w.rate);
            if (!this.#running) break;
            const t0 = performance.now();
            try {
              const r = await w.run(this.#base);
              const s: Sample = {
                name: w.name,
                idempotent: false,
                status: r.status,
                ms: performance.now() - t0,
              };
              if (r.status >= 300 || !r.id) s.error = `status ${r.status}`;
              else this.#acked.push(r.id);
              this.#samples.push(s);
            } catch (err) {
              this.#samples.push({
                name: w.name,
                idempotent: false,
                status: 0,
                ms: performance.now() - t0,
                error: String(err),
              });
            }
          }
        })(),
      );
    }
  }

  async stop(): Promise<LoadReport> {
    this.#running = false;
    await Promise.all(this.#tasks);
    this.#tasks = [];
    const samples = this.#samples;
    const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
    const failed = samples.filter((s) => s.error !== undefined);
    return {
      requests: samples.length,
      reads: samples.filter((s) => s.idempotent).length,
      writes: samples.filter((s) => !s.idempotent).length,
      failedReads: failed.filter((s) => s.idempotent).length,
      failedWrites: failed.filter((s) => !s.idempotent).length,
      acknowledged: [...this.#acked],
      p50: Math.round(percentile(ms, 50) * 10) / 10,
      p99: Math.round(percentile(ms, 99) * 10) / 10,
      max: Math.round((ms.at(-1) ?? 0) * 10) / 10,
      seconds: Math.round((performance.now() - this.#started) / 100) / 10,
      failures: failed.slice(0, 10).map((s) => `${s.name} → ${s.status} ${s.error ?? ""}`),
    };
  }
}
