import { describe, expect, it } from "vitest";
import type { ScanProgress } from "../bindings";
import { progressShare, progressWords, scanLabel, scanTarget } from "./services";

const progress = (p: Partial<ScanProgress>): ScanProgress => ({
  running: false,
  connection: "demo",
  done: 0,
  total: 75,
  found: 0,
  elapsed_ms: 0,
  concurrency: 64,
  peak_in_flight: 0,
  error: null,
  ...p,
});

describe("scanTarget", () => {
  it("is the first connection up, like the back end", () => {
    expect(scanTarget([])).toBeNull();
    expect(scanTarget([{ name: "work", state: "disconnected" }])).toBeNull();
    expect(
      scanTarget([
        { name: "work", state: "error" },
        { name: "home", state: "stale" },
        { name: "demo", state: "connected" },
      ]),
    ).toBe("home");
  });
});

describe("scanLabel", () => {
  it("says Scan, Scanning…, Scan again", () => {
    expect(scanLabel(false, false)).toBe("Scan");
    expect(scanLabel(true, false)).toBe("Scanning…");
    expect(scanLabel(true, true)).toBe("Scanning…");
    expect(scanLabel(false, true)).toBe("Scan again");
  });
});

describe("progressWords", () => {
  it("counts probes while running, sums up when done", () => {
    expect(progressWords(null)).toBe("");
    expect(progressWords(progress({ connection: null }))).toBe("");
    expect(progressWords(progress({ running: true, done: 30 }))).toBe("Scanning demo… 30/75 probed");
    expect(progressWords(progress({ done: 75, found: 12, elapsed_ms: 1913, peak_in_flight: 9 }))).toBe(
      "12 services found on demo: 75 ports probed in 1.9 s (at most 9 at once).",
    );
    expect(progressWords(progress({ done: 75, found: 1, elapsed_ms: 500, peak_in_flight: 2 }))).toContain("1 service found");
    expect(progressWords(progress({ error: "the scan was cancelled" }))).toBe("The scan of demo stopped: the scan was cancelled");
  });
});

describe("progressShare", () => {
  it("stays between 0 and 1", () => {
    expect(progressShare(null)).toBe(0);
    expect(progressShare({ done: 0, total: 0 })).toBe(0);
    expect(progressShare({ done: 30, total: 75 })).toBeCloseTo(0.4);
    expect(progressShare({ done: 80, total: 75 })).toBe(1);
  });
});
