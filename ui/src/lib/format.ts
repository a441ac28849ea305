// Words and numbers the UI shows: pure functions, unit-tested (format.test.ts).
import type { ConnectionView, StateKind, Verdict } from "../bindings";

/** The state of a connection in plain words. */
export function stateWords(c: Pick<ConnectionView, "state" | "detail">): string {
  const words: Record<StateKind, string> = {
    disconnected: "Not connected",
    connecting: "Connecting…",
    connected: "Connected",
    stale: "Connected, but no recent handshake",
    error: "Could not connect",
  };
  const base = words[c.state];
  return c.detail ? `${base}: ${c.detail}` : base;
}

/** Whether the toggle shows "on": the connection runs (or tries to). */
export function isOn(state: StateKind): boolean {
  return state === "connecting" || state === "connected" || state === "stale";
}

/** Bytes as B, KiB, MiB, GiB with one decimal above bytes. */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** A handshake age: "never", "just now", "12 s ago", "3 min ago", "2 h ago". */
export function age(secs: number | null | undefined): string {
  if (secs === null || secs === undefined) return "never";
  if (secs < 2) return "just now";
  if (secs < 120) return `${Math.round(secs)} s ago`;
  if (secs < 7200) return `${Math.round(secs / 60)} min ago`;
  return `${Math.round(secs / 3600)} h ago`;
}

/** The verdict in one or two words. */
export function verdictWords(v: Verdict): string {
  return { reachable: "Reachable", blocked: "Blocked", not_routed: "Not routed", unknown: "Unknown" }[v];
}

/** A short key for a long base64 public key. */
export function shortKey(k: string): string {
  return k.length > 12 ? `${k.slice(0, 8)}…${k.slice(-4)}` : k;
}

/** "line 3, column 12" for an import problem, or "" when it is about the whole file. */
export function where(line: number, col: number): string {
  if (line <= 0) return "";
  return col > 0 ? `line ${line}, column ${col}` : `line ${line}`;
}
