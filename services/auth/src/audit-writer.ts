/**
 * The audit table's single writer. Every auth instance runs this loop; one wins.
 *
 *  - Election: a PostgreSQL session advisory lock held on a dedicated connection, the same
 *    connection that appends. If the leader dies or loses the database, the lock goes with
 *    its connection and another instance takes over within `retryMs`; a former leader
 *    cannot append because its connection (and so its lock) is gone.
 *  - Position: the stream sequence of the last appended event is stored in PostgreSQL in
 *    the same transaction as the rows (`audit_writer_state`), and the leader reads AUDIT
 *    through an ordered consumer starting right after it. Appends are therefore exactly
 *    once and in stream order, whatever crashed when; JetStream (file storage, 30 days)
 *    is the durable buffer while auth is down.
 *  - Batches: up to `batch` events per transaction, hashed in order onto the chain head;
 *    duplicates (same event id) are skipped. Every `checkpointRows` rows or
 *    `checkpointS` seconds a checkpoint of the head is signed (Ed25519) in the same
 *    transaction. After commit, the head is published in KV (`audit.head`) so truncation
 *    of the table's tail is detectable too.
 *  - Events: after commit, one `audit.appended` per appended batch (not per row: a busy
 *    mesh would double its event traffic), describing the batch's last row with
 *    `first_seq`/`count`; its id is derived from the chain position, so a retried publish
 *    is stored once.
 */
import { AuditEvent, type Logger, publishEvent, Streams } from "@edgeplane/proto";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import pg from "pg";
import { type ChainRow, canonicalJson, rowHash, signCheckpoint, ZERO_HASH } from "./audit-chain.ts";
import type { SigningKey } from "./signing.ts";

const LOCK_ID = 0x6175646974; // "audit"

export interface AuditWriterOptions {
  databaseUrl: string;
  js: JetStreamClient;
  kv: KV;
  log: Logger;
  key: SigningKey;
  batch: number;
  checkpointRows: number;
  checkpointS: number;
  /** How often a follower retries the election (ms). */
  retryMs?: number;
}

export interface AuditWriter {
  /** True while this instance holds the writer lock. */
  leader(): boolean;
  /** Rows appended by this instance. */
  appended(): number;
  stop(): Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      r();
    });
  });

function normalise(m: JsMsg, log: Logger): Omit<ChainRow, "seq" | "prev_hash" | "row_hash"> | undefined {
  let raw: unknown;
  try {
    raw = m.json();
  } catch {
    log.warn({ stream_seq: m.seq }, "audit event is not JSON; skipped");
    return undefined;
  }
  const p = AuditEvent.safeParse(raw);
  if (!p.success) {
    log.warn(
      { stream_seq: m.seq, issues: p.error.issues.length },
      "audit event does not match the schema; skipped",
    );
    return undefined;
  }
  const e = p.data;
  const t = new Date(e.time);
  const time =
    Number.isNaN(t.getTime()) || t.getUTCFullYear() > 9999 ? new Date(m.info.timestampNanos / 1e6) : t;
  return {
    event_id: e.id.slice(0, 128),
    time: time.toISOString(),
    actor_type: e.actor_type,
    actor_id: e.actor_id,
    actor_name: e.actor_name,
    action: e.action,
    category: e.category,
    target_type: e.target_type,
    target_id: e.target_id,
    result: e.result,
    request_id: e.request_id,
    source_ip: e.source_ip,
    summary: canonicalJson(e.summary),
  };
}

/** One `audit.appended` event for a committed batch (not awaited: the loop never waits on it). */
function appendedEvent(rows: readonly ChainRow[], js: JetStreamClient, log: Logger): void {
  const last = rows[rows.length - 1] as ChainRow;
  const first = rows[0] as ChainRow;
  publishEvent(
    js,
    {
      id: `evt_audit_${last.seq}`,
      type: "audit.appended",
      resource: { kind: "audit_log", name: "main" },
      data: {
        audit_id: last.event_id.slice(0, 64),
        seq: last.seq,
        action: last.action.slice(0, 128),
        category: last.category.slice(0, 64),
        result: last.result as "success" | "failure" | "denied",
        target_type: last.target_type?.slice(0, 64) ?? null,
        target_id: last.target_id?.slice(0, 256) ?? null,
        hash: last.row_hash.toString("hex"),
        first_seq: first.seq,
        count: rows.length,
      },
    },
    { system: "auth/audit-writer" },
  ).catch((err: unknown) => log.warn({ err, seq: last.seq }, "could not publish audit.appended"));
}

export function startAuditWriter(o: AuditWriterOptions): AuditWriter {
  const abort = new AbortController();
  let isLeader = false;
  let count = 0;
  const retryMs = o.retryMs ?? 1000;

  async function lead(client: pg.Client): Promise<void> {
    const st = await client.query<{ stream_seq: string }>("SELECT stream_seq FROM audit_writer_state");
    let streamSeq = Number(st.rows[0]?.stream_seq ?? 0);
    const h = await client.query<{ seq: string; row_hash: Buffer }>(
      "SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    );
    let seq = Number(h.rows[0]?.seq ?? 0);
    let prev = h.rows[0]?.row_hash ?? ZERO_HASH;
    const cp = await client.query<{ seq: string; signed_at: Date }>(
      "SELECT seq, signed_at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
    );
    let cpSeq = Number(cp.rows[0]?.seq ?? 0);
    let cpAt = cp.rows[0]?.signed_at.getTime() ?? Date.now();
    o.log.info({ seq, stream_seq: streamSeq }, "audit writer: leading");

    const consumer = await o.js.consumers.get(Streams.AUDIT.name, { opt_start_seq: streamSeq + 1 });
    while (!abort.signal.aborted) {
      const msgs: JsMsg[] = [];
      const iter = await consumer.fetch({ max_messages: o.batch, expires: 1000 });
      for await (const m of iter) msgs.push(m);
      const dueByTime = seq > cpSeq && Date.now() - cpAt >= o.checkpointS * 1000;
      if (msgs.length === 0 && !dueByTime) continue;

      const events = msgs.map((m) => normalise(m, o.log));
      const ids = events.flatMap((e) => (e ? [e.event_id] : []));
      await client.query("BEGIN");
      try {
        const seen = new Set(
          ids.length
            ? (
                await client.query<{ event_id: string }>(
                  "SELECT event_id FROM audit_log WHERE event_id = ANY($1)",
                  [ids],
                )
              ).rows.map((r) => r.event_id)
            : [],
        );
        const rows: ChainRow[] = [];
        let s = seq;
        let p = prev;
        for (const e of events) {
          if (!e || seen.has(e.event_id)) continue;
          seen.add(e.event_id);
          const r = { ...e, seq: ++s };
          const rh = rowHash(p, r);
          rows.push({ ...r, prev_hash: p, row_hash: rh });
          p = rh;
        }
        if (rows.length) {
          const col = <K extends keyof ChainRow>(k: K) => rows.map((r) => r[k]);
          await client.query(
            `INSERT INTO audit_log (seq, event_id, time, actor_type, actor_id, actor_name, action, category, target_type,
               target_id, result, request_id, source_ip, summary, prev_hash, row_hash)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
               $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bytea[], $16::bytea[])`,
            [
              col("seq"),
              col("event_id"),
              col("time"),
              col("actor_type"),
              col("actor_id"),
              col("actor_name"),
              col("action"),
              col("category"),
              col("target_type"),
              col("target_id"),
              col("result"),
              col("request_id"),
              col("source_ip"),
              col("summary"),
              col("prev_hash"),
              col("row_hash"),
            ],
          );
        }
        const lastStream = msgs.length ? (msgs[msgs.length - 1] as JsMsg).seq : streamSeq;
        await client.query(
          "INSERT INTO audit_writer_state (id, stream_seq) VALUES (true, $1) ON CONFLICT (id) DO UPDATE SET stream_seq = $1",
          [lastStream],
        );
        let signed = false;
        if (s > cpSeq && (s - cpSeq >= o.checkpointRows || Date.now() - cpAt >= o.checkpointS * 1000)) {
          const signedAt = new Date().toISOString();
          const c = { seq: s, row_hash: p, signed_at: signedAt, key_id: o.key.id };
          await client.query(
            "INSERT INTO audit_checkpoints (seq, row_hash, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5)",
            [s, p, signedAt, o.key.id, signCheckpoint(o.key.privateKey, c)],
          );
          signed = true;
        }
        await client.query("COMMIT");
        seq = s;
        prev = p;
        streamSeq = lastStream;
        count += rows.length;
        if (rows.length) appendedEvent(rows, o.js, o.log);
        if (signed) {
          cpSeq = s;
          cpAt = Date.now();
        }
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
      // Acks are informational (the position lives in PostgreSQL); the head lets verify see truncation.
      o.kv.put("audit.head", JSON.stringify({ seq, row_hash: prev.toString("hex") })).catch(() => undefined);
    }
  }

  const loop = (async () => {
    while (!abort.signal.aborted) {
      const client = new pg.Client({ connectionString: o.databaseUrl });
      client.on("error", () => undefined);
      try {
        await client.connect();
        const got = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [LOCK_ID]);
        if (got.rows[0]?.ok) {
          isLeader = true;
          await lead(client);
        }
      } catch (err) {
        if (!abort.signal.aborted) o.log.error({ err }, "audit writer failed; retrying");
      } finally {
        isLeader = false;
        await client.end().catch(() => undefined);
      }
      if (!abort.signal.aborted) await sleep(retryMs, abort.signal);
    }
  })();

  return {
    leader: () => isLeader,
    appended: () => count,
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
