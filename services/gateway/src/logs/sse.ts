/**
 * Live haproxy logs as Server-Sent Events (`GET /api/v1/haproxy/clusters/{cluster}/logs`,
 * PatchPanel `GET /api/logs`). Gateway-local: authentication, permission and cluster
 * scope are checked by the route table before this runs; the handler then subscribes to
 * the cluster's log subject (plain pub/sub, published by every agent) for as long as the
 * client stays.
 *
 * Why not the streamed-reply transport: it is credit-based between one producer and one
 * requester with 30 s idle timeouts — right for a finite export, wrong for an endless
 * tail fed by every node of a cluster. Here the gateway reads NATS directly, so a slow
 * client can only fill its own bounded queue: beyond `maxBuffer` events, lines are
 * dropped for that client (counted, reported as `event: dropped`), never pushed back to
 * NATS or the agents.
 */

import { PassThrough } from "node:stream";
import { type HaproxyLogEntry, HaproxyLogSubjects, type Logger, LogsQuery } from "@edgeplane/proto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { FastifyInstance } from "fastify";
import type { LocalHandler } from "../routes/table.ts";

export interface LogStreamOptions {
  nc: NatsConnection;
  log: Logger;
  /** Events queued per client while its socket is full (default 1000). */
  maxBuffer?: number;
  /** Comment line interval keeping idle streams open through proxies (default 15 s). */
  heartbeatMs?: number;
}

export interface LogStreams {
  handlers: Record<string, LocalHandler>;
  /** Open streams and lines dropped for slow clients (this gateway instance). */
  stats(): { open: number; dropped: number };
}

const dec = new TextDecoder();

export function createLogStreams(app: FastifyInstance, o: LogStreamOptions): LogStreams {
  const maxBuffer = o.maxBuffer ?? 1000;
  const heartbeatMs = o.heartbeatMs ?? 15_000;
  const open = new Set<() => void>();
  let droppedTotal = 0;
  app.addHook("preClose", async () => {
    for (const close of [...open]) close();
  });

  const handler: LocalHandler = async (req, reply) => {
    const cluster = (req.params as { cluster?: string } | undefined)?.cluster ?? "default";
    const q = LogsQuery.parse(req.query ?? {});
    const subject = q.node ? HaproxyLogSubjects.node(cluster, q.node) : HaproxyLogSubjects.cluster(cluster);
    const classes = q.status ? new Set(q.status.split(",").map((s) => Number(s[0]))) : null;
    const keep = (e: HaproxyLogEntry) =>
      (!q.frontend || e.frontend === q.frontend) &&
      (!q.backend || e.backend === q.backend) &&
      (!classes || (e.status !== null && classes.has(Math.floor(e.status / 100))));

    // The body is a stream Fastify pipes to the socket: its buffer filling up is the
    // client's backpressure, and Fastify destroys it when the client goes away.
    const res = new PassThrough({ highWaterMark: 64 * 1024 });
    res.write(": connected\nretry: 2000\n\n");

    const queue: string[] = [];
    let blocked = false;
    let dropped = 0;
    let reported = 0;
    const flush = () => {
      while (queue.length > 0) {
        if (!res.write(queue.shift() as string)) {
          blocked = true;
          res.once("drain", () => {
            blocked = false;
            flush();
          });
          return;
        }
      }
      if (dropped > reported) {
        reported = dropped;
        if (!res.write(`event: dropped\ndata: {"dropped":${dropped}}\n\n`)) {
          blocked = true;
          res.once("drain", () => {
            blocked = false;
            flush();
          });
        }
      }
    };
    const sub = o.nc.subscribe(subject, {
      callback: (_err, m) => {
        if (res.destroyed) return;
        let e: HaproxyLogEntry;
        try {
          e = JSON.parse(dec.decode(m.data)) as HaproxyLogEntry;
        } catch {
          return;
        }
        if (!keep(e)) return;
        if (queue.length >= maxBuffer) {
          dropped++;
          droppedTotal++;
          return;
        }
        queue.push(`event: log\ndata: ${JSON.stringify(e)}\n\n`);
        if (!blocked) flush();
      },
    });
    const hb = setInterval(() => {
      if (!blocked) res.write(": keep-alive\n\n");
    }, heartbeatMs);
    hb.unref();
    const close = () => {
      if (!open.delete(close)) return;
      clearInterval(hb);
      sub.unsubscribe();
      if (!res.writableEnded) res.end();
    };
    open.add(close);
    res.on("close", close);
    res.on("error", close);
    return reply
      .code(200)
      .header("cache-control", "no-store")
      .header("x-accel-buffering", "no")
      .type("text/event-stream; charset=utf-8")
      .send(res);
  };

  return {
    handlers: { "haproxy.logs.stream": handler, "patchpanel.logs": handler },
    stats: () => ({ open: open.size, dropped: droppedTotal }),
  };
}
