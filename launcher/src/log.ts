// The launcher's own log lines, prefixed like a child's (`launcher | …`) and filtered by
// EP_LOG_LEVEL. Human-readable on purpose: this is a foreground developer tool; the
// services keep their own (structured) format.
import type { LogLevel } from "./config.ts";
import { createLineWriter, type PrefixStyle, prefixFor } from "./prefix.ts";

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const RANK: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warn: 3,
  error: 4,
  fatal: 5,
  silent: 6,
};

export function createLogger(opts: {
  level: LogLevel;
  style: PrefixStyle;
  out?: NodeJS.WritableStream;
  name?: string;
}): Logger {
  const out = createLineWriter(prefixFor(opts.name ?? "launcher", opts.style), opts.out ?? process.stdout);
  const min = RANK[opts.level];
  const at = (level: "debug" | "info" | "warn" | "error") => (msg: string) => {
    if (RANK[level] < min) return;
    out.write(`${level === "info" ? "" : `${level.toUpperCase()} `}${msg}\n`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
