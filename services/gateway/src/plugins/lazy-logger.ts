/**
 * Fastify creates a child logger for every request; with pino's redaction configured
 * that costs a measurable slice of each request, yet most requests never log. This
 * factory hands out a logger that creates the real child on first use.
 */
import type { FastifyBaseLogger } from "fastify";
import type { FastifyChildLoggerFactory } from "fastify/types/logger.js";

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

class LazyChildLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Record<string, unknown>;
  readonly #opts: unknown;
  #real: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Record<string, unknown>, opts: unknown) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#opts = opts;
  }

  #get(): FastifyBaseLogger {
    this.#real ??= this.#parent.child(this.#bindings, this.#opts as never);
    return this.#real;
  }

  #log(level: Level, args: unknown[]): void {
    // A level that is off never builds the child.
    const enabled = (this.#parent as { isLevelEnabled?: (l: string) => boolean }).isLevelEnabled;
    if (enabled && !enabled.call(this.#parent, level)) return;
    (this.#get()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return (this.#real ?? this.#parent).level;
  }
  set level(v: string) {
    this.#get().level = v;
  }
  child(bindings: Record<string, unknown>, opts?: unknown): FastifyBaseLogger {
    return this.#get().child(bindings, opts as never);
  }
  fatal(...a: unknown[]) {
    this.#log("fatal", a);
  }
  error(...a: unknown[]) {
    this.#log("error", a);
  }
  warn(...a: unknown[]) {
    this.#log("warn", a);
  }
  info(...a: unknown[]) {
    this.#log("info", a);
  }
  debug(...a: unknown[]) {
    this.#log("debug", a);
  }
  trace(...a: unknown[]) {
    this.#log("trace", a);
  }
  silent() {}
}

export const lazyChildLogger: FastifyChildLoggerFactory = (logger, bindings, opts) =>
  new LazyChildLogger(logger, bindings as Record<string, unknown>, opts) as unknown as FastifyBaseLogger;
