/**
 * A reader for existing haproxy.cfg files: HAProxy 2.6's line tokenizer (quotes, escapes,
 * comments) and sections. Used by the importer and by the semantic comparison of two
 * configurations (import round trip).
 */
import { HAPROXY_SECTION_KEYWORDS } from "@edgeplane/proto";

export interface CfgLine {
  /** 1-based line number in the file. */
  line: number;
  /** The line as written (trimmed). */
  text: string;
  /** Words after quote and escape processing. */
  words: string[];
  /** True when the line uses environment expansion (`"$VAR"`), which import cannot keep structurally. */
  env: boolean;
}

export interface CfgSection {
  /** `global`, `defaults`, `frontend`, … */
  type: string;
  /** Header words after the type (name, `from x`, listen address). */
  args: string[];
  line: number;
  header: string;
  lines: CfgLine[];
}

export const SECTION_TYPES: ReadonlySet<string> = new Set(HAPROXY_SECTION_KEYWORDS);

/**
 * Directives whose order within a section matters to HAProxy (rules, servers, checks): the
 * importer keeps all lines of such a keyword together, the semantic comparison compares them
 * as sequences rather than as sets.
 */
export const ORDERED_DIRECTIVES: ReadonlySet<string> = new Set([
  "http-request",
  "http-response",
  "http-after-response",
  "tcp-request",
  "tcp-response",
  "use_backend",
  "use-server",
  "server",
  "http-check",
  "tcp-check",
  "stick",
  "redirect",
  "errorfile",
]);

/** Split one line into words like HAProxy does; null when a quote is left open. */
export function tokenize(text: string): { words: string[]; env: boolean } | null {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let env = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === " " || c === "\t") {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
      i++;
      continue;
    }
    if (c === "#") break;
    inWord = true;
    if (c === "\\") {
      const n = text[i + 1];
      if (n === undefined) break;
      if (n === "r") cur += "\r";
      else if (n === "n") cur += "\n";
      else if (n === "t") cur += "\t";
      else cur += n;
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return null;
      cur += text.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let closed = false;
      while (j < text.length) {
        const d = text[j] as string;
        if (d === "\\" && j + 1 < text.length) {
          cur += text[j + 1];
          j += 2;
          continue;
        }
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === "$") env = true;
        cur += d;
        j++;
      }
      if (!closed) return null;
      i = j + 1;
      continue;
    }
    cur += c;
    i++;
  }
  if (inWord) words.push(cur);
  return { words, env };
}

export interface ParsedCfg {
  sections: CfgSection[];
  /** Lines before any section, or with an open quote. */
  errors: Array<{ line: number; text: string; reason: string }>;
}

export function parseCfg(text: string): ParsedCfg {
  const sections: CfgSection[] = [];
  const errors: ParsedCfg["errors"] = [];
  let cur: CfgSection | undefined;
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = idx + 1;
    const t = tokenize(raw);
    if (!t) {
      errors.push({ line, text: raw.trim(), reason: "unbalanced quote" });
      return;
    }
    if (t.words.length === 0) return;
    const first = t.words[0] as string;
    if (SECTION_TYPES.has(first)) {
      cur = { type: first, args: t.words.slice(1), line, header: raw.trim(), lines: [] };
      sections.push(cur);
      return;
    }
    if (!cur) {
      errors.push({ line, text: raw.trim(), reason: "directive outside of any section" });
      return;
    }
    cur.lines.push({ line, text: raw.trim().replaceAll("\t", " "), words: t.words, env: t.env });
  });
  return { sections, errors };
}
