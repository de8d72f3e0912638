/**
 * Streamed replies over NATS, for bodies larger than one message (a NATS payload is
 * capped at ~1 MB) or of unknown length (CSV exports, log tails). Generic: any route with
 * `replyType: "stream"` uses it, whatever it streams.
 *
 * Protocol (requester = gateway, producer = service):
 *  1. The requester subscribes to a fresh inbox, then sends an ordinary request (`callRaw`)
 *     whose forwarded headers carry `ep-stream-inbox: <inbox>`. Validation, authorisation
 *     and errors before the first byte travel as the ordinary reply.
 *  2. The producer answers that request with a `StreamOpened` (`ack_subject`, content type)
 *     and then publishes to the inbox, in order: `ep-stream: data` messages (`ep-seq` 1, 2, …,
 *     ≤ `chunkBytes` each), then exactly one `ep-stream: end` — or `ep-stream: error` with a
 *     `WireError` body if it fails midway.
 *  3. Flow control is credit-based: the requester publishes `{"seq": n}` to `ack_subject`
 *     once chunk n has been handed on (e.g. written to the HTTP socket); the producer keeps at
 *     most `window` chunks unacknowledged. Memory is bounded on both sides by
 *     `window × chunkBytes`, however long the stream. `{"cancel": true}` stops the producer
 *     (client went away); a producer without acks for `idleTimeoutMs` gives up, and so does a
 *     requester that hears nothing for as long.
 */
import { createInbox, type Msg, type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import { z } from "zod";
import { type EpError, Errors, fromWire, toEpError, type WireError } from "../errors.ts";
import { type CallOptions, callRaw } from "./call.ts";
import type { ReplyMeta } from "./wire.ts";

/** Forwarded-header name carrying the requester's inbox. */
export const STREAM_INBOX_HEADER = "ep-stream-inbox";
const KIND = "ep-stream";
const SEQ = "ep-seq";

export const StreamOpened = z
  .object({
    ack_subject: z.string().describe("Where the requester sends `{seq}` acks or `{cancel: true}`."),
    content_type: z.string().describe("Media type of the streamed body."),
    filename: z.string().optional().describe("Suggested download name."),
  })
  .describe("A stream has started; its body follows as ordered chunks.");
export type StreamOpened = z.infer<typeof StreamOpened>;

export interface StreamOptions {
  contentType: string;
  filename?: string;
  /** Unacknowledged chunks allowed in flight (default 8). */
  window?: number;
  /** Chunk size in bytes (default 64 KiB; keep well under the server's max_payload). */
  chunkBytes?: number;
  /** Give up when the requester has not acked for this long (default 30 s). */
  idleTimeoutMs?: number;
}

export interface StreamWriter {
  /** Append to the body; resolves when buffered (waits for credit when the window is full). */
  write(chunk: string | Uint8Array): Promise<void>;
  /** Aborted when the requester cancels or stops acking. */
  readonly signal: AbortSignal;
}

const INBOX_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){1,8}$/;
const enc = new TextEncoder();

/**
 * Producer side: start streaming to the inbox named in a route request's forwarded headers.
 * Returns the `StreamOpened` to reply with; `produce` runs in the background.
 */
export function openStream(
  nc: NatsConnection,
  forwarded: Record<string, string>,
  opts: StreamOptions,
  produce: (w: StreamWriter) => Promise<void>,
  onError: (err: unknown) => void = () => undefined,
): StreamOpened {
  const inbox = forwarded[STREAM_INBOX_HEADER];
  if (!inbox || !INBOX_RE.test(inbox)) {
    throw Errors.BadRequest.withMessage("this route streams its reply: call it through the gateway");
  }
  const window = opts.window ?? 8;
  const chunkBytes = opts.chunkBytes ?? 64 * 1024;
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const ackSubject = createInbox();
  const abort = new AbortController();
  let sent = 0;
  let acked = 0;
  let wake: (() => void) | undefined;
  const ackSub = nc.subscribe(ackSubject, {
    callback: (_e, m) => {
      try {
        const a = m.json() as { seq?: number; cancel?: boolean };
        if (a.cancel) abort.abort(new Error("cancelled by the requester"));
        else if (typeof a.seq === "number" && a.seq > acked) acked = a.seq;
      } catch {
        /* ignore garbage */
      }
      wake?.();
    },
  });

  const waitCredit = async () => {
    while (sent - acked >= window) {
      if (abort.signal.aborted) throw abort.signal.reason;
      const got = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), idleMs);
        wake = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      wake = undefined;
      if (!got) abort.abort(new Error("the requester stopped acknowledging"));
    }
    if (abort.signal.aborted) throw abort.signal.reason;
  };
  const publish = (kind: "data" | "end" | "error", body?: Uint8Array) => {
    const h = natsHeaders();
    h.set(KIND, kind);
    if (kind === "data") h.set(SEQ, String(++sent));
    nc.publish(inbox, body ?? new Uint8Array(0), { headers: h });
  };

  let buf = new Uint8Array(chunkBytes);
  let len = 0;
  const flush = async () => {
    if (len === 0) return;
    await waitCredit();
    publish("data", buf.slice(0, len));
    len = 0;
  };
  const writer: StreamWriter = {
    signal: abort.signal,
    async write(chunk) {
      let bytes = typeof chunk === "string" ? enc.encode(chunk) : chunk;
      while (bytes.length > 0) {
        const n = Math.min(bytes.length, chunkBytes - len);
        buf.set(bytes.subarray(0, n), len);
        len += n;
        bytes = bytes.subarray(n);
        if (len === chunkBytes) {
          await flush();
          buf = new Uint8Array(chunkBytes);
        }
      }
    },
  };

  // Start on the next tick, after the caller has replied with `StreamOpened`.
  setImmediate(() => {
    void (async () => {
      try {
        await produce(writer);
        await flush();
        publish("end");
      } catch (err) {
        if (!abort.signal.aborted) {
          onError(err);
          publish("error", enc.encode(JSON.stringify(toEpError(err).toWire())));
        }
      } finally {
        ackSub.unsubscribe();
      }
    })();
  });
  const opened: StreamOpened = { ack_subject: ackSubject, content_type: opts.contentType };
  if (opts.filename) opened.filename = opts.filename;
  return opened;
}

export interface OpenedStream {
  opened: StreamOpened;
  meta?: ReplyMeta;
  /** The body, chunk by chunk, in order. Each chunk is acknowledged when the next is pulled. */
  chunks: AsyncIterableIterator<Uint8Array>;
  /** Stop the producer (e.g. the HTTP client went away). */
  cancel(): void;
}

/**
 * Requester side: send a route request that streams its reply. Throws the route's error
 * (as an EpError) if the producer refuses before streaming.
 */
export async function requestStream(
  nc: NatsConnection,
  subject: string,
  payload: { headers?: Record<string, string> } & Record<string, unknown>,
  opts: CallOptions & { idleTimeoutMs?: number } = {},
): Promise<OpenedStream> {
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const inbox = createInbox();
  const queue: Msg[] = [];
  let notify: (() => void) | undefined;
  const sub = nc.subscribe(inbox, {
    callback: (_e, m) => {
      queue.push(m);
      notify?.();
    },
  });
  let res: Awaited<ReturnType<typeof callRaw>>;
  try {
    res = await callRaw(
      nc,
      subject,
      { ...payload, headers: { ...payload.headers, [STREAM_INBOX_HEADER]: inbox } },
      opts,
    );
  } catch (err) {
    sub.unsubscribe();
    throw err;
  }
  const opened = StreamOpened.parse(res.data);
  let expected = 1;
  let done = false;
  const finish = () => {
    done = true;
    sub.unsubscribe();
  };
  const cancel = () => {
    if (done) return;
    nc.publish(opened.ack_subject, JSON.stringify({ cancel: true }));
    finish();
  };
  const next = async (): Promise<Msg> => {
    while (queue.length === 0) {
      const got = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), idleMs);
        notify = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      notify = undefined;
      if (!got) throw Errors.Timeout.create(undefined, { service: subject.split(".")[2] ?? subject });
    }
    return queue.shift() as Msg;
  };
  async function* iterate(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const m = await next();
        const kind = m.headers?.get(KIND);
        if (kind === "end") {
          finish();
          return;
        }
        if (kind === "error") throw fromWire(m.json() as WireError);
        if (kind !== "data") continue;
        const seq = Number(m.headers?.get(SEQ));
        if (seq !== expected)
          throw Errors.Internal.withMessage(`stream chunk ${expected} was lost (got ${seq})`);
        yield m.data;
        nc.publish(opened.ack_subject, JSON.stringify({ seq }));
        expected++;
      }
    } catch (err) {
      cancel();
      throw err as EpError;
    } finally {
      if (!done) cancel();
    }
  }
  const out: OpenedStream = { opened, chunks: iterate(), cancel };
  if (res.meta) out.meta = res.meta;
  return out;
}
