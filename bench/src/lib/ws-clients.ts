/**
 * A child process holding a share of the `ws` benchmark's WebSocket clients, as lean as a
 * correct client can be, because on the 2-core bench machine the clients compete with the
 * gateway for CPU (real clients run elsewhere). Each client is a raw TCP socket: it does
 * the HTTP upgrade itself (checks the 101 and `Sec-WebSocket-Accept`), sends its `auth` and
 * `subscribe` frames (masked, as RFC 6455 requires of clients), and then parses every
 * frame the server sends with a minimal reader: text frames, pings (answered with a pong
 * echoing the payload), close. Reads land in one static buffer (`onread`), so no Buffer
 * and no stream machinery per read. Per event frame it records the stream sequence (read
 * from the frame prefix `{"type":"event","seq":N,`) and the arrival time on the monotonic
 * clock shared by every process of the machine (`process.hrtime`), taken once per read.
 *
 * IPC (advanced serialization): in {cmd:"start", …Start} → out {type:"ready"};
 * {cmd:"reset"} → {type:"reset"}; {cmd:"collect"} → {type:"samples", seqs, times, closed};
 * {cmd:"stop"} → exits.
 */
import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

interface Start {
  url: string;
  /** Deliveries to expect (pre-sizes the sample arrays). */
  capacity: number;
  clients: number;
  keyOffset: number;
  usersPerKey: number;
  topic: string;
}

const send = (m: unknown) => (process.send as (m: unknown) => boolean)(m);
if (!process.send) throw new Error("ws-clients runs as a child process with an IPC channel");

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const PREFIX = Buffer.from('{"type":"event","seq":');
const ACK_S = Buffer.from('{"type":"ack","id":"s"');
const ERROR = Buffer.from('{"type":"error"');
// Sized once at start (growing a 10-million-entry array mid-run would stall every client):
// sequence numbers, and arrival times in ms since `t0` (float32: ~8 µs resolution at 100 s).
let seqs = new Uint32Array(0);
let times = new Float32Array(0);
let t0 = 0;
let n = 0;
let closedUnexpectedly = 0;
let stopping = false;
const sockets: Socket[] = [];
/** Every socket reads into this one buffer; a partial frame is copied out (rare). */
const readBuf = Buffer.allocUnsafe(256 * 1024);

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function record(seq: number, at: number): void {
  if (n === seqs.length) {
    const s2 = new Uint32Array(Math.max(1 << 16, seqs.length * 2));
    s2.set(seqs);
    seqs = s2;
    const t2 = new Float32Array(s2.length);
    t2.set(times);
    times = t2;
  }
  seqs[n] = seq;
  times[n] = at - t0;
  n++;
}

/** One masked client frame (mask 0: the payload bytes are unchanged). */
function clientFrame(op: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? 6 : 8;
  const f = Buffer.alloc(head + len);
  f[0] = 0x80 | op;
  if (len < 126) f[1] = 0x80 | len;
  else {
    f[1] = 0x80 | 126;
    f.writeUInt16BE(len, 2);
  }
  payload.copy(f, head);
  return f;
}

/** Byte-wise prefix test (Buffer.compare's call overhead showed in the client profile). */
function startsWith(b: Buffer, off: number, len: number, p: Buffer): boolean {
  if (len < p.length) return false;
  for (let k = 0; k < p.length; k++) if (b[off + k] !== p[k]) return false;
  return true;
}

function open(cfg: Start, index: number): Promise<void> {
  const url = new URL(cfg.url);
  const key = randomBytes(16).toString("base64");
  const accept = createHash("sha1")
    .update(key + GUID)
    .digest("base64");
  const user = Math.floor((cfg.keyOffset + index) / cfg.usersPerKey);
  return new Promise<void>((resolve, reject) => {
    let upgraded = false;
    let subscribed = false;
    let dead = false;
    let rest: Buffer | undefined;
    const fail = (why: string) => {
      if (dead) return;
      dead = true;
      if (!subscribed) reject(new Error(why));
      else if (!stopping) closedUnexpectedly++;
      socket.destroy();
    };
    /** Whole frames of `buf`; returns the offset of the first incomplete one. */
    const frames = (buf: Buffer, end: number, at: number): number => {
      let i = 0;
      while (i + 2 <= end) {
        const op = (buf[i] as number) & 0x0f;
        let len = (buf[i + 1] as number) & 0x7f;
        let off = i + 2;
        if (len === 126) {
          if (off + 2 > end) break;
          len = buf.readUInt16BE(off);
          off += 2;
        } else if (len === 127) {
          if (off + 8 > end) break;
          len = Number(buf.readBigUInt64BE(off));
          off += 8;
        }
        if (off + len > end) break;
        if (op === 1) {
          if (startsWith(buf, off, len, PREFIX)) {
            let seq = 0;
            for (let k = off + PREFIX.length; k < off + len; k++) {
              const c = buf[k] as number;
              if (c < 48 || c > 57) break;
              seq = seq * 10 + (c - 48);
            }
            record(seq, at);
          } else if (!subscribed && startsWith(buf, off, len, ACK_S)) {
            subscribed = true;
            resolve();
          } else if (startsWith(buf, off, len, ERROR)) {
            fail(`server error: ${buf.toString("utf8", off, off + len)}`);
          }
        } else if (op === 9) {
          socket.write(clientFrame(0x0a, Buffer.from(buf.subarray(off, off + len))));
        } else if (op === 8) {
          const code = len >= 2 ? buf.readUInt16BE(off) : 1005;
          fail(`closed ${code} ${buf.toString("utf8", off + 2, off + len)}`);
          return end;
        }
        i = off + len;
      }
      return i;
    };
    const onRead = (nread: number, buf: Buffer): boolean => {
      const at = nowMs();
      let data = buf;
      let end = nread;
      if (rest) {
        data = Buffer.concat([rest, buf.subarray(0, nread)]);
        end = data.length;
        rest = undefined;
      }
      let i = 0;
      if (!upgraded) {
        const h = data.indexOf("\r\n\r\n");
        if (h < 0 || h + 4 > end) {
          rest = Buffer.from(data.subarray(0, end));
          return true;
        }
        const head = data.toString("latin1", 0, h);
        if (!head.startsWith("HTTP/1.1 101") || !head.includes(`Sec-WebSocket-Accept: ${accept}`)) {
          fail(`upgrade refused: ${head.split("\r\n", 1)[0]}`);
          return false;
        }
        upgraded = true;
        i = h + 4;
        socket.write(
          Buffer.concat([
            clientFrame(0x01, Buffer.from(JSON.stringify({ type: "auth", token: `ep_bench_${user}` }))),
            clientFrame(
              0x01,
              Buffer.from(JSON.stringify({ type: "subscribe", id: "s", topics: [cfg.topic] })),
            ),
          ]),
        );
      }
      if (i < end) {
        const body = i === 0 ? data : data.subarray(i, end);
        const used = frames(body, end - i, at);
        if (used < end - i) rest = Buffer.from(body.subarray(used, end - i));
      }
      return true;
    };
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      noDelay: true,
      onread: { buffer: readBuf, callback: onRead },
    });
    sockets.push(socket);
    socket.once("connect", () => {
      socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on("error", (err) => fail(err.message));
    socket.once("close", () => fail("socket closed"));
  });
}

process.on("message", async (m: { cmd: string } & Partial<Start>) => {
  if (m.cmd === "start") {
    const cfg = m as Start;
    seqs = new Uint32Array(cfg.capacity);
    times = new Float32Array(cfg.capacity);
    t0 = nowMs();
    try {
      // Connect in waves so the gateway's accept queue is not the thing measured.
      for (let i = 0; i < cfg.clients; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, cfg.clients - i) }, (_, k) => open(cfg, i + k)));
      }
      send({ type: "ready" });
    } catch (err) {
      send({ type: "error", message: err instanceof Error ? err.message : String(err) });
    }
  } else if (m.cmd === "reset") {
    n = 0;
    send({ type: "reset" });
  } else if (m.cmd === "collect") {
    send({
      type: "samples",
      t0,
      seqs: seqs.slice(0, n),
      times: times.slice(0, n),
      closed: closedUnexpectedly,
    });
  } else if (m.cmd === "stop") {
    stopping = true;
    for (const s of sockets) s.destroy();
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
