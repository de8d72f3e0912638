/**
 * Every node prepares while the committing agent runs `haproxy -c`, not only that agent's.
 *
 * The committing agent publishes the candidate document (its stored JSON, compressed like a
 * KV value) on `HaproxySubjects.candidate(cluster)` as soon as it is serialised. Every other
 * agent of the cluster renders it for its own node and `prepare`s (candidate file, server
 * state dump) in the meantime. When the committed value then arrives through the KV watch,
 * `match` recognises it without decoding the document again: the value is
 * `{"state":<document JSON>,<meta>}`, so its state is the candidate's when those bytes are
 * equal, and only the small meta is parsed. Anything else (another document, a value of
 * another schema, no candidate, a candidate that never came) is decoded as before: the KV
 * stays the only source of truth, a candidate only saves work.
 */
import { HaproxySubjects, type StateDocument } from "@edgeplane/proto";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import type { Rendered } from "./render.ts";
import type { StoredState } from "./store.ts";
import { encodeStoredJson, stateSchemaFingerprint, storedJsonBytes } from "./stored-codec.ts";

const FROM = "Ep-Agent";
const SCHEMA = "Ep-Schema";
const ABANDON = "Ep-Abandon";
/** A candidate whose value never came is dropped after this long (a lost abandon). */
const EXPIRE_MS = 60_000;
const PREFIX = Buffer.from('{"state":');

/** Publish the candidate document JSON (`docJson`, without `meta`) of a commit under way. */
export async function publishCandidate(
  nc: NatsConnection,
  cluster: string,
  instance: string,
  docJson: string,
): Promise<void> {
  const h = natsHeaders();
  h.set(FROM, instance);
  h.set(SCHEMA, stateSchemaFingerprint());
  nc.publish(HaproxySubjects.candidate(cluster), await encodeStoredJson(docJson), { headers: h });
}

/** The commit of the last candidate `instance` published will not happen (rejected, stale…). */
export function publishAbandon(nc: NatsConnection, cluster: string, instance: string): void {
  const h = natsHeaders();
  h.set(FROM, instance);
  h.set(ABANDON, "1");
  nc.publish(HaproxySubjects.candidate(cluster), new Uint8Array(0), { headers: h });
}

interface Candidate {
  from: string;
  bytes: Buffer;
  state: StateDocument;
  rendered: Rendered;
  expiry: NodeJS.Timeout;
}

/** The other agents' candidates, as this node renders them. */
export class RemotePrepare {
  #candidate: Candidate | null = null;
  readonly #stop: () => void;

  constructor(
    nc: NatsConnection,
    cluster: string,
    instance: string,
    /** Render for this node and prepare its candidate file (`NodeAgent.prepare`). */
    prepare: (state: StateDocument) => Rendered,
    /** Drop the candidate file of a rendering that will not be applied (`NodeAgent.discard`). */
    discard: (r: Rendered) => void,
    onError: (err: unknown) => void,
  ) {
    const drop = () => {
      const c = this.#candidate;
      if (!c) return;
      this.#candidate = null;
      clearTimeout(c.expiry);
      discard(c.rendered);
    };
    this.#drop = drop;
    const sub = nc.subscribe(HaproxySubjects.candidate(cluster), {
      callback: (err, m) => {
        const from = m.headers?.get(FROM) ?? "";
        if (err || from === instance) return;
        if (m.headers?.get(ABANDON)) {
          if (this.#candidate?.from === from) drop();
          return;
        }
        // Written by another schema: the value will be parsed again, nothing to prepare.
        if (m.headers?.get(SCHEMA) !== stateSchemaFingerprint()) return;
        void (async () => {
          const bytes = await storedJsonBytes(m.data);
          // The committing agent's schema output, serialised: as decodeStored would take it.
          const state = JSON.parse(bytes.toString("utf8")) as StateDocument;
          const rendered = prepare(state);
          if (this.#candidate) clearTimeout(this.#candidate.expiry);
          const expiry = setTimeout(drop, EXPIRE_MS);
          expiry.unref();
          this.#candidate = { from, bytes, state, rendered, expiry };
        })().catch(onError);
      },
    });
    this.#stop = () => sub.unsubscribe();
  }

  readonly #drop: () => void;

  /**
   * The stored state of a KV value whose document is the latest candidate's, with that
   * candidate's rendering; null when it is not (then decode the value as usual).
   */
  async match(value: Uint8Array): Promise<{ stored: StoredState; rendered: Rendered } | null> {
    const c = this.#candidate;
    if (!c) return null;
    const raw = await storedJsonBytes(value);
    const end = PREFIX.length + c.bytes.length;
    if (raw.length <= end + 1 || raw[end] !== 0x2c /* , */) return null;
    if (raw.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) !== 0) return null;
    if (raw.compare(c.bytes, 0, c.bytes.length, PREFIX.length, end) !== 0) return null;
    const meta = JSON.parse(`{${raw.subarray(end + 1).toString("utf8")}`) as Omit<StoredState, "state">;
    if (meta.schema_fingerprint !== stateSchemaFingerprint()) return null;
    this.#candidate = null;
    clearTimeout(c.expiry);
    return { stored: { ...meta, state: c.state }, rendered: c.rendered };
  }

  stop(): void {
    this.#stop();
    this.#drop();
  }
}
