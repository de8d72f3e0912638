/**
 * Leader lease in NATS KV, for the one instance that writes history. NATS 2.9 has no per-key
 * TTL, so the lease is revision-based: the holder renews the key with compare-and-set every
 * `heartbeatMs`; a contender that has seen the same revision for `leaseMs` (measured on its
 * own monotonic clock: no clock skew involved) takes it over with a compare-and-set on that
 * revision, so exactly one contender wins. The bucket's `ttl` (max age, 3 × lease) removes
 * an abandoned key entirely; then `create` wins. A holder that could not renew for
 * `leaseMs - heartbeatMs` stops considering itself leader before anyone can take over; a
 * holder that stops cleanly deletes the key (CAS) so another takes over at once.
 */
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

export interface LeaseOptions {
  bucket: string;
  key: string;
  holder: string;
  leaseMs: number;
  heartbeatMs: number;
  replicas?: number;
  onChange?: (leader: boolean) => void;
}

const WRONG_LAST_SEQUENCE = 10071;
const isStale = (err: unknown) =>
  (err as { code?: unknown; api_error?: { err_code?: unknown } })?.api_error?.err_code ===
    WRONG_LAST_SEQUENCE ||
  (err as { code?: unknown }).code === WRONG_LAST_SEQUENCE ||
  /wrong last sequence/i.test(String((err as Error)?.message));

export class Lease {
  private kv!: KV;
  private readonly opts: LeaseOptions;
  private rev = 0;
  private renewedAt = 0;
  private seenRev = -1;
  private seenAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private leader = false;
  private stopped = false;
  /** Current holder as last read (for status). */
  holder: string | null = null;

  constructor(opts: LeaseOptions) {
    this.opts = opts;
  }

  static async start(nc: NatsConnection, opts: LeaseOptions): Promise<Lease> {
    const l = new Lease(opts);
    l.kv = await new Kvm(nc).create(opts.bucket, {
      history: 1,
      ttl: opts.leaseMs * 3,
      replicas: opts.replicas ?? 1,
      description: "Leases of singleton stats jobs (history writer)",
    } as never);
    await l.tick();
    l.timer = setInterval(() => {
      l.running = l.running.then(() => l.tick()).catch(() => undefined);
    }, opts.heartbeatMs);
    return l;
  }

  /** Leader now, and renewed recently enough that nobody else can be. */
  isLeader(): boolean {
    if (!this.leader) return false;
    if (performance.now() - this.renewedAt > this.opts.leaseMs - this.opts.heartbeatMs) {
      this.set(false);
      return false;
    }
    return true;
  }

  private set(v: boolean) {
    if (v !== this.leader) {
      this.leader = v;
      this.opts.onChange?.(v);
    }
  }

  private value() {
    return JSON.stringify({ holder: this.opts.holder, at: new Date().toISOString() });
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const { key } = this.opts;
    const now = performance.now();
    try {
      if (this.leader) {
        this.rev = await this.kv.update(key, this.value(), this.rev);
        this.renewedAt = now;
        this.holder = this.opts.holder;
        return;
      }
      const e = await this.kv.get(key);
      if (e?.operation !== "PUT") {
        this.rev = e
          ? await this.kv.update(key, this.value(), e.revision)
          : await this.kv.create(key, this.value());
        this.won(now);
        return;
      }
      this.holder = (JSON.parse(e.string()) as { holder?: string }).holder ?? null;
      if (this.holder === this.opts.holder) {
        // Our own key from before a restart: take it back at once.
        this.rev = await this.kv.update(key, this.value(), e.revision);
        this.won(now);
        return;
      }
      if (e.revision !== this.seenRev) {
        this.seenRev = e.revision;
        this.seenAt = now;
        return;
      }
      if (now - this.seenAt >= this.opts.leaseMs) {
        this.rev = await this.kv.update(key, this.value(), e.revision);
        this.won(now);
      }
    } catch (err) {
      if (this.leader && isStale(err)) this.set(false);
      else if (
        !isStale(err) &&
        this.leader &&
        now - this.renewedAt > this.opts.leaseMs - this.opts.heartbeatMs
      )
        this.set(false);
    }
  }

  private won(now: number) {
    this.renewedAt = now;
    this.holder = this.opts.holder;
    this.seenRev = -1;
    this.set(true);
  }

  /** Stop; a leader hands the lease back (CAS delete) so another takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    if (this.leader) {
      await this.kv.delete(this.opts.key, { previousSeq: this.rev }).catch(() => undefined);
      this.set(false);
    }
  }
}
