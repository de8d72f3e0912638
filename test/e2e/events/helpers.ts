/**
 * Helpers for the event-stream tests: a real mesh (nats-server with JetStream, PostgreSQL,
 * the auth service, one or more gateways), the owner's API key from first-run setup, and a
 * small WebSocket client that records frames and the close code.
 */
import { buildEvent, type EventInput, publishEvent } from "@edgeplane/proto";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import WebSocket from "ws";
import { type ServiceProcess, startControlPlane, waitFor } from "../../harness/mod.ts";

export interface Mesh {
  natsUrl: string;
  nc: NatsConnection;
  js: JetStreamClient;
  gateways: ServiceProcess[];
  ownerKey: string;
  ownerId: string;
  /** Start one more gateway (with extra env). */
  addGateway(env?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export async function startMesh(
  opts: { gateways?: number; gatewayEnv?: Record<string, string> } = {},
): Promise<Mesh> {
  const cp = await startControlPlane({ tmpPrefix: "ep-events-" });
  try {
    const { nats } = cp;
    await cp.spawn("auth", cp.authEnv);
    const gateways: ServiceProcess[] = [];
    const addGateway = async (env: Record<string, string> = {}) => {
      const gw = await cp.spawn("gateway", {
        EP_NATS_URL: nats.url,
        ...opts.gatewayEnv,
        ...env,
      });
      gateways.push(gw);
      return gw;
    };
    for (let i = 0; i < (opts.gateways ?? 1); i++) await addGateway();
    const gw0 = gateways[0] as ServiceProcess;
    const owner = await cp.completeSetup(gw0.url as string);
    const nc = await connect({ servers: nats.url });
    cp.defer(() => nc.close());
    return {
      natsUrl: nats.url,
      nc,
      js: jetstream(nc),
      gateways,
      ownerKey: owner.apiKey,
      ownerId: owner.userId,
      addGateway,
      stop: cp.dispose,
    };
  } catch (err) {
    await cp.dispose();
    throw err;
  }
}

export const wsUrl = (gw: ServiceProcess, path = "/api/v1/ws") => `${gw.url?.replace(/^http/, "ws")}${path}`;

export interface Frame {
  type: string;
  id?: string;
  seq?: number;
  op?: string;
  code?: string;
  count?: number;
  live_from?: number;
  event?: {
    id: string;
    type: string;
    time: string;
    data: Record<string, unknown>;
    resource: { kind: string; name: string };
  };
  [k: string]: unknown;
}

export interface Client {
  ws: WebSocket;
  frames: Frame[];
  /** Receive times (performance.now()) of event frames, by event id. */
  received: Map<string, number>;
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  /** Wait for a frame matching `pred` (searching frames already received too). */
  next(pred: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  events(): Frame[];
  close(): Promise<void>;
}

export async function openClient(
  url: string,
  opts: { headers?: Record<string, string>; onEvent?: (f: Frame, at: number) => void } = {},
): Promise<Client> {
  const ws = new WebSocket(url, { headers: opts.headers ?? {}, perMessageDeflate: false });
  const frames: Frame[] = [];
  const received = new Map<string, number>();
  const waiters = new Set<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }>();
  ws.on("message", (data) => {
    const at = performance.now();
    const f = JSON.parse(data.toString()) as Frame;
    if (f.type === "event" && f.event) {
      received.set(f.event.id, at);
      opts.onEvent?.(f, at);
    }
    frames.push(f);
    for (const w of waiters) {
      if (w.pred(f)) {
        waiters.delete(w);
        w.resolve(f);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  const client: Client = {
    ws,
    frames,
    received,
    closed,
    send: (frame) => ws.send(JSON.stringify(frame)),
    next(pred, timeoutMs = 5_000) {
      const found = frames.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise<Frame>((resolve, reject) => {
        const w = { pred, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (waiters.delete(w))
            reject(
              new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5))}`),
            );
        }, timeoutMs);
      });
    },
    events: () => frames.filter((f) => f.type === "event"),
    async close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
      ws.terminate();
    },
  };
  return client;
}

/** Open, authenticate with a first frame, and subscribe. */
export async function subscribed(
  url: string,
  token: string,
  topics: string[],
  since?: number,
  opts: Parameters<typeof openClient>[1] = {},
): Promise<Client> {
  const c = await openClient(url, opts);
  c.send({ type: "auth", token });
  await c.next((f) => f.type === "ack" && f.op === "auth");
  c.send({ type: "subscribe", id: "s1", topics, ...(since !== undefined ? { since } : {}) });
  await c.next((f) => f.type === "ack" && f.op === "subscribe" && f.id === "s1");
  return c;
}

/** A catalogue event for tests: a HAProxy runtime change on `cluster`. */
export function runtimeEvent(cluster: string, n: number): EventInput {
  return {
    type: "haproxy.runtime.changed",
    resource: { kind: "cluster", name: cluster },
    data: { backend: "web", server: `s${n}`, action: "weight", value: n },
  };
}

export async function publish(js: JetStreamClient, input: EventInput) {
  return publishEvent(js, buildEvent(input, { system: "test" }));
}

export { waitFor };
