/**
 * A worker thread holding a share of the benchmark's WebSocket clients. Each client
 * connects with `ws`, authenticates with a first frame and subscribes to one topic; then
 * its socket is taken over by a minimal frame reader (the server's frames are unmasked
 * text frames; pings are answered), because `ws`'s per-message machinery would make the
 * load generator, not the gateway, the thing measured. Per event frame it records the
 * stream sequence (read from the frame prefix `{"type":"event","seq":N,`) and the
 * arrival time as an absolute high-resolution timestamp (`timeOrigin + now()`).
 *
 * Messages: in {cmd:"start"} → out {type:"ready"}; {cmd:"reset"} → {type:"reset"};
 * {cmd:"collect"} → {type:"samples", seqs, times, closed}; {cmd:"stop"}.
 */
import type { Socket } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";

interface Start {
  url: string;
  clients: number;
  keyOffset: number;
  usersPerKey: number;
  topic: string;
}

const port = parentPort;
if (!port) throw new Error("ws-clients runs as a worker thread");
const cfg = workerData as Start;
const sockets: WebSocket[] = [];
let seqs = new Float64Array(1 << 20);
let times = new Float64Array(1 << 20);
let n = 0;
let closedUnexpectedly = 0;
let stopping = false;
const PREFIX = Buffer.from('{"type":"event","seq":');
const PONG = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]); // masked, empty, mask 0

function record(seq: number, at: number): void {
  if (n === seqs.length) {
    const s2 = new Float64Array(seqs.length * 2);
    s2.set(seqs);
    seqs = s2;
    const t2 = new Float64Array(times.length * 2);
    t2.set(times);
    times = t2;
  }
  seqs[n] = seq;
  times[n] = at;
  n++;
}

/** Frame reader for one socket: whole frames from possibly split chunks. */
function reader(socket: Socket): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const at = performance.timeOrigin + performance.now();
    let buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = undefined;
    let i = 0;
    while (i + 2 <= buf.length) {
      const op = (buf[i] as number) & 0x0f;
      let len = (buf[i + 1] as number) & 0x7f;
      let off = i + 2;
      if (len === 126) {
        if (off + 2 > buf.length) break;
        len = buf.readUInt16BE(off);
        off += 2;
      } else if (len === 127) {
        if (off + 8 > buf.length) break;
        len = Number(buf.readBigUInt64BE(off));
        off += 8;
      }
      if (off + len > buf.length) break;
      if (
        op === 1 &&
        len > PREFIX.length &&
        buf.compare(PREFIX, 0, PREFIX.length, off, off + PREFIX.length) === 0
      ) {
        let seq = 0;
        for (let k = off + PREFIX.length; k < off + len; k++) {
          const c = buf[k] as number;
          if (c < 48 || c > 57) break;
          seq = seq * 10 + (c - 48);
        }
        record(seq, at);
      } else if (op === 9) {
        socket.write(PONG);
      }
      i = off + len;
    }
    if (i < buf.length) rest = buf.subarray(i);
    buf = Buffer.alloc(0);
  };
}

async function open(n: number): Promise<void> {
  const ws = new WebSocket(cfg.url, { perMessageDeflate: false });
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => {
      const user = Math.floor((cfg.keyOffset + n) / cfg.usersPerKey);
      ws.send(JSON.stringify({ type: "auth", token: `ep_bench_${user}` }));
      ws.send(JSON.stringify({ type: "subscribe", id: "s", topics: [cfg.topic] }));
    });
    ws.on("message", (d) => {
      const s = (d as Buffer).toString("latin1", 0, 40);
      if (s.startsWith('{"type":"ack","id":"s"')) {
        // Take the socket over from ws (nothing else is in flight before events are published).
        const socket = (ws as unknown as { _socket: Socket })._socket;
        socket.removeAllListeners("data");
        socket.on("data", reader(socket));
        resolve();
      } else if (s.startsWith('{"type":"error"')) reject(new Error((d as Buffer).toString()));
    });
    ws.once("error", reject);
    ws.once("close", (code, reason) => {
      if (!stopping) closedUnexpectedly++;
      reject(new Error(`closed ${code} ${reason.toString()}`));
    });
  });
}

port.on("message", async (m: { cmd: string }) => {
  if (m.cmd === "start") {
    try {
      // Connect in waves so the gateway's accept queue is not the thing measured.
      for (let i = 0; i < cfg.clients; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, cfg.clients - i) }, (_, k) => open(i + k)));
      }
      port.postMessage({ type: "ready" });
    } catch (err) {
      port.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
    }
  } else if (m.cmd === "reset") {
    n = 0;
    port.postMessage({ type: "reset" });
  } else if (m.cmd === "collect") {
    port.postMessage({
      type: "samples",
      seqs: seqs.slice(0, n),
      times: times.slice(0, n),
      closed: closedUnexpectedly,
    });
  } else if (m.cmd === "stop") {
    stopping = true;
    for (const ws of sockets) ws.terminate();
    port.close();
  }
});
