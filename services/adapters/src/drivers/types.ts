/**
 * The one driver interface every vendor implements. Drivers receive only validated,
 * vendor-neutral objects (see proto's vendor catalogue) and map them to the vendor's
 * API; every failure leaves as a typed adapter error (connection, authentication, not
 * found, timeout, rate limit, generic), with the vendor's own detail in the log only.
 */
import type {
  AdapterCredentials,
  AdapterOperation,
  AdapterTlsSettings,
  AdapterVendor,
  Logger,
} from "@edgeplane/proto";

/** One device, as a driver sees it (credentials already unsealed). */
export interface Conn {
  controllerId: string;
  baseUrl: string;
  credentials: AdapterCredentials;
  tls: AdapterTlsSettings;
  /** Budget of one operation (read or write) in ms. */
  timeoutMs: number;
  log: Logger;
}

/** An object of a feature in the driver's neutral model; `id` addresses it. */
export type Item = Record<string, unknown> & { id: string };

/** A staged change as handed to a driver. */
export interface ChangeSpec {
  id: string;
  feature: string;
  operation: AdapterOperation;
  targetId: string | null;
  /** The complete validated object (create, update), else null. */
  data: Record<string, unknown> | null;
  /** The device's object when staged (update, delete), else null. */
  before: Item | null;
}

export interface ApplyOutcome {
  /** What the device answered (e.g. the new object's id). */
  result: Record<string, unknown>;
  /** What undoes it (stored sealed): a snapshot, a savepoint revision, the inverse… */
  rollback: unknown;
}

export interface ApplyOptions {
  /** Commit-confirm window in seconds; undefined = apply for good. */
  confirmWithin?: number;
}

export interface Driver {
  readonly vendor: AdapterVendor;
  /** Reachability + credentials: what the device says about itself. */
  test(c: Conn): Promise<Record<string, unknown>>;
  read(c: Conn, feature: string): Promise<Item[]>;
  /** One object; throws `adapter_not_found` when the device has none with that id. */
  get(c: Conn, feature: string, id: string): Promise<Item>;
  apply(c: Conn, ch: ChangeSpec, opts: ApplyOptions): Promise<ApplyOutcome>;
  /** Keep a commit-confirm change (cancel the device's rollback timer, if any). */
  confirm(c: Conn, ch: ChangeSpec, rollback: unknown): Promise<void>;
  /** Undo an applied change. */
  rollback(c: Conn, ch: ChangeSpec, rollback: unknown): Promise<void>;
}

/** Strip `undefined` values (JSON has none). */
export function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
