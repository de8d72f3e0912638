/** Structured logging (pino), JSON lines on stdout; one root logger per process. */
import { type Logger, pino } from "pino";

export type { Logger };

export function createLogger(name: string, level: string = "info"): Logger {
  return pino({
    name,
    level,
    base: { svc: name, pid: process.pid },
    // Never log these, wherever they appear in a logged object.
    redact: {
      paths: [
        "password",
        "*.password",
        "token",
        "*.token",
        "api_key",
        "*.api_key",
        "key",
        "*.private_key",
        "private_key",
      ],
      censor: "[redacted]",
    },
  });
}
