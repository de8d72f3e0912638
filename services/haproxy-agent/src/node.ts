/**
 * One node's convergence: watch the cluster key, and for every new revision render →
 * `haproxy -c` → write atomically (temp + fsync + rename, previous file kept) → dump
 * `show servers state` → reload through the master CLI → confirm with `show proc` →
 * publish `applied`/`failed` and the node status. On failure the previous file is
 * restored and the old worker keeps serving: never a half-applied state. Applies are
 * serialised and coalesced (only the newest desired revision is applied).
 */
import { createHash } from "node:crypto";
import { linkSync, renameSync, rmSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { base32, type Logger, type NodeStatus, publishEvent, StateDocument } from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KvWatchEntry } from "@nats-io/kv";
import { haproxyCheck } from "./check.ts";
import { syncDir, syncFile, writeAtomic, writeReplace } from "./durable-fs.ts";
import { alerts, HaproxyProcess, type ProcInfo } from "./haproxy.ts";
import { Phases } from "./phases.ts";
import { type Rendered, type RenderOptions, render, runtimePaths } from "./render.ts";
import { type ClusterStore, decodeStored, type StoredState } from "./store.ts";

export interface NodeAgentOptions {
  cluster: string;
  node: string;
  instance: string;
  dir: string;
  bin: string | null;
  version: string | null;
  strategy: NodeStatus["control_strategy"];
  masterSocket: string;
  /** Master pidfile (default `<dir>/haproxy.pid`; strategy `pid`: the existing master's). */
  pidFile?: string;
  /** The file haproxy reads (default `<dir>/haproxy.cfg`). */
  cfgFile?: string;
  certDir: string;
  portOffset: number;
  noreuseport: boolean;
  reloadTimeoutMs: number;
  heartbeatMs: number;
  onExit: "stop" | "keep";
  /** Issue 7: node-local render settings (the agent's syslog target). */
  logTarget?: string;
  store: ClusterStore;
  js: JetStreamClient;
  log: Logger;
}

interface Marker {
  revision: number;
  hash: string;
  stopped: boolean;
}

const EMPTY: StoredState = {
  state: StateDocument.parse({}),
  committed_at: new Date(0).toISOString(),
  committed_by: null,
  comment: null,
  restored_from: null,
  request_id: null,
};

export class NodeAgent {
  readonly o: NodeAgentOptions;
  readonly proc: HaproxyProcess;
  readonly cfgPath: string;
  readonly renderOpts: RenderOptions;
  desired: { revision: number; stored: StoredState | null } = { revision: 0, stored: null };
  status: NodeStatus;
  private marker: Marker = { revision: 0, hash: "", stopped: false };
  /** When the watch delivered the newest revision (for the phase log). */
  private received = { revision: 0, lagMs: 0, decodeMs: 0 };
  /** A candidate file written while its rendering was being checked (see `prepare`). */
  private prepared: {
    hash: string;
    path: string;
    written: Promise<boolean>;
    /** When the server state was dumped for the reload that would apply it (null: not). */
    dumped: Promise<number | null>;
    /** What ran when it was prepared, and the command generation then (see `runningNow`). */
    baseline: Promise<{ generation: number; info: ProcInfo } | null>;
  } | null = null;
  private candidates = 0;
  /** The committing validation's rendering of a revision (see `offer`). */
  private prerendered: { revision: number; rendered: Rendered } | null = null;
  private running = false;
  private dirty = false;
  private closed = false;
  private busy: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private watchStop: (() => void) | undefined;
  /**
   * Issue 7 hooks, run on the convergence chain: `onBeforeApply` before a revision is
   * rendered (fetch the certificate files it references), `onApplied` after a revision is
   * serving or a manual reload (re-apply runtime intents).
   */
  onBeforeApply: ((stored: StoredState) => Promise<void>) | undefined;
  onApplied: ((reloaded: boolean) => Promise<void>) | undefined;

  constructor(o: NodeAgentOptions) {
    this.o = o;
    this.cfgPath = o.cfgFile ?? join(o.dir, "haproxy.cfg");
    const rt = runtimePaths(o.dir);
    this.renderOpts = {
      runDir: o.dir,
      mapDir: join(o.dir, "maps"),
      certDir: o.certDir,
      portOffset: o.portOffset,
      noreuseport: o.noreuseport,
      ...(o.logTarget ? { logTarget: o.logTarget } : {}),
    };
    this.proc = new HaproxyProcess({
      bin: o.bin ?? "haproxy",
      cfg: this.cfgPath,
      masterSocket: o.masterSocket,
      pidFile: o.pidFile ?? join(o.dir, "haproxy.pid"),
      logFile: join(o.dir, "haproxy.log"),
      adminSocket: rt.adminSocket,
      stateFile: rt.stateFile,
    });
    const now = new Date().toISOString();
    this.status = {
      cluster: o.cluster,
      node: o.node,
      online: true,
      state: o.bin && o.version ? "starting" : "not_installed",
      revision: 0,
      desired_revision: 0,
      failed_revision: null,
      haproxy_version: o.version,
      master_pid: null,
      worker_pids: [],
      reloads: 0,
      last_reload_at: null,
      last_error: o.bin && o.version ? null : `haproxy is not installed (looked for ${o.bin ?? "haproxy"})`,
      control_strategy: o.strategy,
      agent: o.instance,
      updated_at: now,
      seen_at: now,
    };
  }

  /**
   * The agent starts and stops haproxy itself with `child` (its own master) and `pid` (an
   * existing master found by its pidfile, signalled; started like a child when none runs).
   * `systemd`, `s6` and `none` are detect-only: the agent reloads through the master CLI
   * but never starts or stops haproxy behind the supervisor's back.
   */
  get canStartStop(): boolean {
    return this.o.strategy === "child" || this.o.strategy === "pid";
  }

  private notStartable(): Error {
    return new Error(
      `haproxy is not running and this node's control strategy is '${this.o.strategy}': start it with ${
        this.o.strategy === "systemd" ? "systemctl" : this.o.strategy === "s6" ? "s6-svc" : "its supervisor"
      } (the agent starts haproxy only with the child or pid strategy)`,
    );
  }

  get installed(): boolean {
    return this.o.bin !== null && this.o.version !== null;
  }

  render(stored: StoredState): Rendered {
    return render(stored.state, this.renderOpts);
  }

  async start(): Promise<void> {
    await mkdir(join(this.o.dir, "maps"), { recursive: true, mode: 0o750 });
    // Candidates of an earlier life that were never applied.
    const cfgDir = dirname(this.cfgPath);
    const candPrefix = `${basename(this.cfgPath)}.cand-`;
    for (const f of await readdir(cfgDir).catch(() => [] as string[]))
      if (f.startsWith(candPrefix) && /^[0-9a-z]+$/.test(f.slice(candPrefix.length)))
        await rm(join(cfgDir, f), { force: true });
    const m = await readFile(join(this.o.dir, "applied.json"), "utf8").catch(() => "");
    if (m) this.marker = { ...this.marker, ...(JSON.parse(m) as Partial<Marker>) };
    if (this.installed) {
      const p = await this.proc.showProc(0);
      if (p) {
        // A master from an earlier life of this agent: adopt it.
        this.running = true;
        this.noteProc(p);
        this.status.revision = this.marker.revision;
        this.o.log.info({ master: p.masterPid, revision: this.marker.revision }, "adopted running haproxy");
      }
    } else {
      this.o.log.error(
        { bin: this.o.bin },
        "haproxy is not installed: this node reports not_installed and applies nothing",
      );
    }
    await this.publishStatus();
    const w = await this.o.store.state.watch({ key: this.o.cluster });
    this.watchStop = () => w.stop();
    void (async () => {
      for await (const e of w as AsyncIterable<KvWatchEntry>) {
        if (e.operation !== "PUT" || e.value.length === 0) continue;
        if (e.revision <= this.desired.revision) continue;
        try {
          const at = Date.now();
          const t = performance.now();
          // The document another agent announced while checking it (cluster-prepare.ts):
          // already rendered, and prepared, here; anything else is decoded.
          const fast = await this.fastPath?.(e.value).catch(() => null);
          const stored = fast?.stored ?? (await decodeStored(e.value));
          if (fast) this.prerendered = { revision: e.revision, rendered: fast.rendered };
          this.received = {
            revision: e.revision,
            lagMs: at - Date.parse(stored.committed_at),
            decodeMs: performance.now() - t,
          };
          this.desired = { revision: e.revision, stored };
          this.o.store.remember(this.o.cluster, e.revision, stored);
        } catch (err) {
          this.o.log.error({ err, revision: e.revision }, "stored state does not parse");
          continue;
        }
        this.status.desired_revision = e.revision;
        this.kick();
      }
    })();
    void this.kick();
    this.timer = setInterval(() => void this.heartbeat(), this.o.heartbeatMs);
    this.timer.unref();
  }

  /**
   * A revision this agent itself just committed: converge on it now, from the document
   * already in hand, instead of waiting for the KV watch to bring it back and decoding it
   * again (the watch skips a revision that is already desired). Other nodes learn of it
   * through the watch as before.
   */
  offer(revision: number, stored: StoredState, validated?: Rendered): void {
    if (revision <= this.desired.revision) return;
    // The validation rendered with this node's options but its own map directory: without
    // map files the text is this node's rendering, byte for byte (render once, not twice).
    this.prerendered = validated && validated.maps.length === 0 ? { revision, rendered: validated } : null;
    this.received = { revision, lagMs: 0, decodeMs: 0 };
    this.desired = { revision, stored };
    this.o.store.remember(this.o.cluster, revision, stored);
    this.status.desired_revision = revision;
    void this.kick();
  }

  /**
   * A rendering may be committed soon (this agent is checking it, or another agent is:
   * cluster-prepare.ts): write the file this node would run while `haproxy -c` runs, so
   * that applying it is a rename, not a write. Only without map files (the committing
   * validation renders maps into its own directory, see `offer`); the newest candidate
   * replaces an older one; an apply of any other rendering ignores it.
   */
  prepare(r: Rendered): void {
    if (r.maps.length > 0) return;
    const old = this.prepared;
    // A new name every time: a file an apply may be renaming is never opened again.
    const path = `${this.cfgPath}.cand-${(++this.candidates).toString(36)}`;
    const written = writeFile(path, r.cfg, { mode: 0o644 }).then(
      () => true,
      () => false,
    );
    // The server-state dump of the reload too (the apply then only reads `show proc`). It is
    // taken up to one `haproxy -c` earlier than the apply would take it: a change made
    // directly on the admin socket in that window is not carried over — edgeplane's own
    // runtime changes are re-applied after every apply anyway (runtime.ts). An unused dump
    // only refreshes the state file.
    const dumped = this.running
      ? this.proc.admin("show servers state", 0).then(
          async (st) => {
            if (!st.startsWith("1")) return null;
            const at = performance.now();
            await writeReplace(this.proc.paths.stateFile, st);
            return at;
          },
          () => null,
        )
      : Promise.resolve(null);
    // What runs, as the reload's baseline, unless a start, reload or stop is under way.
    const generation = this.proc.generation;
    const baseline =
      this.running && this.proc.changing === 0
        ? this.proc.showProc(1000).then(
            (info) => (info ? { generation, info } : null),
            () => null,
          )
        : Promise.resolve(null);
    this.prepared = { hash: r.hash, path, written, dumped, baseline };
    if (old) void old.written.then(() => rm(old.path, { force: true }).catch(() => undefined));
  }

  /**
   * What runs now: the answer a `prepare` got while no command was changing it, if none
   * began since (every start, reload and stop of this agent goes through `this.proc`, on
   * the convergence chain this runs on), else a `show proc` asked now (~1.3 ms of the PUT
   * path). The baseline does not depend on the rendering, so a candidate of any rendering
   * serves.
   */
  private async runningNow(): Promise<ProcInfo | null> {
    const early = await this.prepared?.baseline;
    if (early && early.generation === this.proc.generation && this.proc.changing === 0) return early.info;
    return this.proc.showProc(1000);
  }

  /** Forget the candidate of a rendering that will not be committed. */
  discard(r: Rendered): void {
    const p = this.prepared;
    if (p?.hash !== r.hash) return;
    this.prepared = null;
    void p.written.then(() => rm(p.path, { force: true }).catch(() => undefined));
  }

  private holds = 0;
  /**
   * Marks work that wants this process and its haproxy to itself until the returned
   * function is called: a commit's validation (service.ts) and every convergence pass.
   * Background work (stats sampling) waits while any is held.
   */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
    };
  }
  get held(): boolean {
    return this.holds > 0;
  }

  /** Schedule a convergence pass (coalesced). */
  kick(): Promise<void> {
    this.dirty = true;
    this.busy = this.busy.then(async () => {
      const release = this.hold();
      try {
        while (this.dirty && !this.closed) {
          this.dirty = false;
          await this.converge().catch((err) => this.o.log.error({ err }, "convergence failed"));
        }
      } finally {
        release();
      }
    });
    return this.busy;
  }

  /** Run `fn` between convergence passes (control actions). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.busy.then(fn);
    this.busy = r.then(
      () => undefined,
      () => undefined,
    );
    return r;
  }

  private async converge(): Promise<void> {
    const { revision } = this.desired;
    // Before the first commit the node runs an empty document (revision 0): haproxy is
    // managed (master socket, reloads) from the start.
    const stored = this.desired.stored ?? EMPTY;
    if (!this.installed) {
      await this.publishStatus();
      return;
    }
    if (this.marker.stopped) {
      this.status.state = "stopped";
      await this.publishStatus();
      return;
    }
    if (revision === this.status.revision && this.running && this.status.state === "applied") return;
    if (revision === this.status.failed_revision && this.running) return;
    const ph = new Phases();
    const t0 = ph.t0;
    if (this.received.revision === revision) {
      ph.ms.watch_lag = this.received.lagMs;
      ph.ms.decode = Math.round(this.received.decodeMs * 10) / 10;
    }
    // What runs now (the reload's baseline) is asked while the before-apply hook runs.
    const running = this.running ? this.runningNow() : undefined;
    running?.catch(() => undefined);
    await this.onBeforeApply?.(stored).catch((err) => this.o.log.warn({ err }, "before-apply hook failed"));
    const pre = this.prerendered?.revision === revision ? this.prerendered.rendered : null;
    this.prerendered = null;
    const rendered = pre ?? this.render(stored);
    ph.mark("render");
    if (this.running && rendered.hash === this.marker.hash) {
      // Same file as what runs: nothing to reload (nor a candidate of it to keep).
      this.discard(rendered);
      await this.succeed(revision, rendered.hash, t0, false, ph);
      return;
    }
    this.status.state = "applying";
    let prepared: boolean;
    try {
      prepared = await this.applyFile(rendered, ph, stored.validated_hash ?? null, running);
    } catch (err) {
      await this.fail(revision, err, t0);
      return;
    }
    await this.succeed(revision, rendered.hash, t0, true, ph, prepared);
  }

  /**
   * Write, check, swap and reload (or start); restores the previous file on failure.
   *
   * `haproxy -c` is skipped when the committing agent already ran it on this very
   * rendering (`validatedHash` = this file's node-neutral hash): only this node's paths
   * and port offset differ, and whatever those break (a missing certificate here, a port
   * taken here) fails the reload, which is confirmed through `show proc` and rolled back.
   * The file is written without fsync and made durable (file + directory) while haproxy
   * reloads; success is reported only after both. Resolves to whether a candidate file
   * prepared in advance was used (`prepare`).
   */
  private async applyFile(
    r: Rendered,
    ph: Phases = new Phases(),
    validatedHash: string | null = null,
    running?: Promise<ProcInfo | null>,
  ): Promise<boolean> {
    // The candidate this agent wrote (and the state it dumped) while checking this very
    // rendering, if any (`prepare`).
    const cand = this.prepared?.hash === r.hash ? this.prepared : null;
    if (cand) this.prepared = null;
    // What runs now and the server-state dump are read while the file is written and
    // checked: neither depends on it, and both are on the way to the reload. The two
    // questions go out together (the dump is retried as before if its first try found no
    // socket while a master answers). A dump `prepare` took less than 2 s ago stands.
    const prep = (async () => {
      const dumpedAt = cand ? await cand.dumped : null;
      if (dumpedAt !== null && performance.now() - dumpedAt < 2000)
        return running ?? this.proc.showProc(1000);
      const quick = this.proc.admin("show servers state", 0).catch(() => null);
      const before = await (running ?? this.proc.showProc(1000));
      if (before) await this.dumpServerState((await quick) ?? undefined);
      return before;
    })();
    prep.catch(() => undefined);
    await Promise.all(
      r.maps.map(async (m) => {
        const same = await readFile(m.path, "utf8").then(
          (c) => c === m.content,
          () => false,
        );
        if (!same) await writeAtomic(m.path, m.content);
      }),
    );
    ph.mark("maps");
    // A candidate written in advance is renamed into place like a freshly written file.
    const next = cand && (await cand.written) ? cand.path : `${this.cfgPath}.next`;
    if (next !== cand?.path) await writeFile(next, r.cfg, { mode: 0o644 });
    ph.mark("write");
    if (validatedHash === null || validatedHash !== r.neutralHash) {
      const chk = await haproxyCheck(this.o.bin as string, next);
      ph.mark("check");
      if (!chk.ok) {
        await rm(next, { force: true });
        throw new Error(`haproxy -c failed: ${alerts(chk.output)}`);
      }
    }
    // The previous file stays as a hard link (no copy); the rename swaps atomically. Three
    // metadata calls of a few µs each, made synchronously: through libuv's thread pool they
    // queue behind whatever else is in flight there (3–5 ms measured on the PUT path).
    const prev = `${this.cfgPath}.prev`;
    rmSync(prev, { force: true });
    let hadPrev = true;
    try {
      linkSync(this.cfgPath, prev);
    } catch {
      hadPrev = await copyFile(this.cfgPath, prev).then(
        () => true,
        () => false,
      );
    }
    renameSync(next, this.cfgPath);
    const durable = syncFile(this.cfgPath).then(() => syncDir(this.o.dir));
    durable.catch(() => undefined);
    ph.mark("swap");
    try {
      const before = await prep;
      ph.mark("show_proc_state_dump");
      if (before) {
        this.noteProc(await this.proc.reload(this.o.reloadTimeoutMs, ph, before));
      } else {
        if (!this.canStartStop) throw this.notStartable();
        this.noteProc(await this.proc.start(this.o.reloadTimeoutMs));
        this.running = true;
      }
      await durable;
      ph.mark("fsync");
    } catch (err) {
      if (hadPrev) {
        await rename(prev, this.cfgPath).catch(() => copyFile(prev, this.cfgPath).catch(() => undefined));
        await syncDir(this.o.dir);
        if (this.canStartStop && !(await this.proc.showProc(500))) {
          // Nothing serves: bring the previous configuration back up.
          await this.proc.start(this.o.reloadTimeoutMs).then(
            (p) => this.noteProc(p),
            () => undefined,
          );
        }
      }
      this.running = (await this.proc.showProc(500)) !== null;
      throw err;
    }
    return cand !== null;
  }

  /** Save runtime state (drain, weights, maint) so the new worker loads it. */
  async dumpServerState(fetched?: string): Promise<void> {
    try {
      const s = fetched ?? (await this.proc.admin("show servers state"));
      // Read once, by the worker this reload starts: atomic (never half a file), no fsync.
      if (s.startsWith("1")) await writeReplace(this.proc.paths.stateFile, s);
    } catch (err) {
      this.o.log.warn({ err }, "could not dump server state before reload");
    }
  }

  private noteProc(p: ProcInfo): void {
    this.status.master_pid = p.masterPid;
    this.status.worker_pids = p.workers;
    this.status.reloads = p.reloads;
  }

  private async succeed(
    revision: number,
    hash: string,
    t0: number,
    reloaded: boolean,
    ph: Phases = new Phases(),
    prepared = false,
  ): Promise<void> {
    this.marker = { revision, hash, stopped: false };
    this.status.state = "applied";
    this.status.revision = revision;
    this.status.failed_revision = null;
    this.status.last_error = null;
    if (reloaded) this.status.last_reload_at = new Date().toISOString();
    // A marker lost in a crash only costs one more reload at the next start.
    await Promise.all([
      writeAtomic(join(this.o.dir, "applied.json"), JSON.stringify(this.marker)),
      this.publishStatus(),
    ]);
    ph.mark("status");
    await this.event("applied", revision, null, performance.now() - t0, reloaded, ph.ms);
    ph.mark("event");
    this.o.log.info(
      {
        revision,
        ms: Math.round(performance.now() - t0),
        reloaded,
        prepared,
        phases: ph.ms,
      },
      "applied",
    );
    await this.onApplied?.(reloaded).catch((err) => this.o.log.warn({ err }, "after-apply hook failed"));
  }

  private async fail(revision: number, err: unknown, t0: number): Promise<void> {
    const msg = err instanceof Error ? err.message : String(err);
    this.status.state = "failed";
    this.status.failed_revision = revision;
    this.status.last_error = msg;
    await this.publishStatus();
    await this.event("failed", revision, msg, performance.now() - t0);
    this.o.log.error({ revision, error: msg }, "apply failed; previous configuration kept");
  }

  /**
   * `haproxy.state.applied|failed` of this node, in EVENTS (the catalogue subject; the
   * former `ep.v1.evt.haproxy.<cluster>.<result>` payload had no reader and no catalogue
   * shape). The id is derived from cluster/node/revision/result: a repeated publish of the
   * same outcome within JetStream's duplicate window is stored once.
   */
  private async event(
    result: "applied" | "failed",
    revision: number,
    error: string | null,
    ms: number,
    reloaded = false,
    phases: Record<string, number> = {},
  ) {
    const { cluster, node } = this.o;
    const id = `evt_${base32(createHash("sha256").update(`${cluster}/${node}/${revision}/${result}`).digest()).slice(0, 26)}`;
    const resource = { kind: "cluster" as const, name: cluster };
    const ctx = { system: `haproxy-agent/${node}` };
    const duration_ms = Math.round(ms * 10) / 10;
    const msg = error ?? "";
    // Where it failed, from the error applyFile/HaproxyProcess raised.
    const stage = /^haproxy -c failed/.test(msg)
      ? "validate"
      : /^E[A-Z]+: /.test(msg)
        ? "swap"
        : /not confirmed|did not start/.test(msg)
          ? "confirm"
          : "reload";
    await publishEvent(
      this.o.js,
      result === "applied"
        ? { id, type: "haproxy.state.applied", resource, data: { revision, node, duration_ms, reloaded } }
        : {
            id,
            type: "haproxy.state.failed",
            resource,
            data: {
              revision,
              node,
              stage,
              error: {
                code: stage === "validate" ? "haproxy_config_invalid" : "haproxy_reload_failed",
                message: msg.slice(0, 4000),
              },
            },
          },
      ctx,
    ).catch((e) => this.o.log.warn({ err: e }, "could not publish apply event"));
    // `haproxy.reload` when the apply reloaded (or started) haproxy, or failed doing so.
    if (result === "applied" ? !reloaded : stage !== "reload" && stage !== "confirm") return;
    const viaReload = phases.reload_cmd !== undefined;
    const pid = this.status.worker_pids[0]; // the current worker (old ones are listed apart)
    // Not awaited: the next convergence pass does not wait for it (order is kept per connection).
    void publishEvent(
      this.o.js,
      {
        id: `evt_${base32(createHash("sha256").update(`${cluster}/${node}/${revision}/reload/${result}`).digest()).slice(0, 26)}`,
        type: "haproxy.reload",
        resource,
        data: {
          node,
          result: result === "applied" ? "success" : "failure",
          reason: result === "applied" && !viaReload ? "start" : "state",
          duration_ms: viaReload
            ? Math.round(((phases.reload_cmd ?? 0) + (phases.reload_confirm ?? 0)) * 10) / 10
            : duration_ms,
          ...(result === "applied" && pid ? { worker_pid: pid } : {}),
          ...(result === "failed"
            ? { error: { code: "haproxy_reload_failed", message: msg.slice(0, 4000) } }
            : {}),
        },
      },
      ctx,
    ).catch((e) => this.o.log.warn({ err: e }, "could not publish reload event"));
  }

  /** Recognises a committed value this node prepared for (see cluster-prepare.ts). */
  fastPath: ((value: Uint8Array) => Promise<{ stored: StoredState; rendered: Rendered } | null>) | undefined;

  /** Listeners of this node's status as it is published (a PUT of this process waiting). */
  readonly statusListeners = new Set<(s: NodeStatus) => void>();

  async publishStatus(): Promise<void> {
    const now = new Date().toISOString();
    this.status.updated_at = now;
    this.status.seen_at = now;
    for (const l of this.statusListeners) l({ ...this.status });
    await this.o.store
      .putNode(this.status)
      .catch((err) => this.o.log.warn({ err }, "could not publish node status"));
  }

  /** Heartbeat + supervision: a managed master that died is started again. */
  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    if (this.installed && this.running && !this.marker.stopped && this.o.strategy === "child") {
      // Between convergence passes only: the master socket is briefly away during a reload.
      const p = await this.exclusive(() => this.proc.showProc(2000));
      if (!p) {
        this.o.log.warn("haproxy master is gone; starting it again");
        this.running = false;
        this.status.state = "stopped";
        this.marker.hash = "";
        this.kick();
      } else this.noteProc(p);
    }
    this.status.seen_at = new Date().toISOString();
    await this.o.store.putNode(this.status).catch(() => undefined);
  }

  // ---- control actions

  async reload(): Promise<ProcInfo> {
    return this.exclusive(async () => {
      if (!this.installed) throw new Error("haproxy is not installed");
      await this.dumpServerState();
      const p = await this.proc.reload(this.o.reloadTimeoutMs);
      this.noteProc(p);
      this.status.last_reload_at = new Date().toISOString();
      await this.publishStatus();
      await this.onApplied?.(true).catch((err) => this.o.log.warn({ err }, "after-apply hook failed"));
      return p;
    });
  }

  async startHaproxy(): Promise<ProcInfo> {
    if (!this.installed) throw new Error("haproxy is not installed");
    if (!this.canStartStop) {
      const p = await this.proc.showProc(200);
      if (p) return p;
      throw this.notStartable();
    }
    this.marker.stopped = false;
    await writeAtomic(join(this.o.dir, "applied.json"), JSON.stringify(this.marker));
    const running = await this.proc.showProc(200);
    if (running) {
      this.running = true;
      return running;
    }
    this.running = false;
    this.marker.hash = "";
    await this.kick();
    const p = await this.proc.showProc(500);
    if (!p) throw new Error(this.status.last_error ?? "haproxy did not start (no state committed yet?)");
    return p;
  }

  async stopHaproxy(): Promise<void> {
    if (!this.canStartStop)
      throw new Error(
        `this node's control strategy is '${this.o.strategy}': stop haproxy through it (the agent stops haproxy only with the child or pid strategy)`,
      );
    await this.exclusive(async () => {
      this.marker.stopped = true;
      await writeAtomic(join(this.o.dir, "applied.json"), JSON.stringify(this.marker));
      await this.proc.stop();
      this.running = false;
      this.status.state = "stopped";
      this.status.master_pid = null;
      this.status.worker_pids = [];
      await this.publishStatus();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.watchStop?.();
    await this.busy.catch(() => undefined);
    if (this.o.onExit === "stop" && this.o.strategy === "child")
      await this.proc.stop().catch(() => undefined);
    this.status.online = false;
    await this.publishStatus();
  }
}
