/** The typed NATS transport every service uses: serve, call, audit, streams, headers. */
export * from "./audit.ts";
export * from "./call.ts";
export * from "./events.ts";
export * from "./headers.ts";
export * from "./serve.ts";
export * from "./stream.ts";
export * from "./streams.ts";
export * from "./trace.ts";
export * from "./transient.ts";
export * from "./wire.ts";
