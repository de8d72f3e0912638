// Line prefixing of child output: `gateway       | <line>`, the name coloured on a TTY.
// Output is split on newlines so lines of different children never interleave mid-line.
import { StringDecoder } from "node:string_decoder";

/** ANSI colours cycled over children in the order they are first seen. */
const PALETTE = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94] as const;

export interface PrefixStyle {
  /** Names are padded to this width so the `|` columns line up. */
  readonly width: number;
  readonly color: boolean;
}

const assigned = new Map<string, number>();

export function prefixFor(name: string, style: PrefixStyle): string {
  const padded = name.padEnd(style.width);
  if (!style.color) return `${padded} | `;
  let code = assigned.get(name);
  if (code === undefined) {
    code = PALETTE[assigned.size % PALETTE.length] as number;
    assigned.set(name, code);
  }
  return `\x1b[${code}m${padded} |\x1b[0m `;
}

export interface LineWriter {
  /** Feed a chunk of output; complete lines are written prefixed. */
  write(chunk: Buffer | string): void;
  /** Write what is left of an unterminated last line. */
  flush(): void;
}

/** Long output without a newline is flushed anyway rather than buffered without bound. */
const MAX_PENDING = 64 * 1024;

export function createLineWriter(prefix: string, out: NodeJS.WritableStream): LineWriter {
  // A chunk may end inside a multi-byte character: the decoder keeps the partial bytes.
  const decoder = new StringDecoder("utf8");
  let pending = "";
  return {
    write(chunk) {
      pending += typeof chunk === "string" ? chunk : decoder.write(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      if (pending.length > MAX_PENDING) {
        lines.push(pending);
        pending = "";
      }
      if (lines.length > 0) out.write(lines.map((l) => `${prefix}${l.replace(/\r$/, "")}\n`).join(""));
    },
    flush() {
      pending += decoder.end();
      if (pending !== "") out.write(`${prefix}${pending}\n`);
      pending = "";
    },
  };
}
