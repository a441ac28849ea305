import { describe, expect, it } from "vitest";
import { age, bytes, isOn, shortKey, stateWords, verdictWords, where } from "./format";

describe("format", () => {
  it("says each state in plain words, with the reason", () => {
    expect(stateWords({ state: "connected", detail: null })).toBe("Connected");
    expect(stateWords({ state: "connecting", detail: null })).toBe("Connecting…");
    expect(stateWords({ state: "stale", detail: "no handshake for 200 s" })).toBe(
      "Connected, but no recent handshake: no handshake for 200 s",
    );
    expect(stateWords({ state: "error", detail: "bad key" })).toBe("Could not connect: bad key");
    expect(stateWords({ state: "disconnected", detail: null })).toBe("Not connected");
  });

  it("turns the toggle on while the tunnel runs", () => {
    expect(isOn("connecting")).toBe(true);
    expect(isOn("connected")).toBe(true);
    expect(isOn("stale")).toBe(true);
    expect(isOn("error")).toBe(false);
    expect(isOn("disconnected")).toBe(false);
  });

  it("formats bytes, ages, verdicts, keys and positions", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(5 * 1024 * 1024)).toBe("5.0 MiB");
    expect(bytes(-1)).toBe("–");
    expect(age(null)).toBe("never");
    expect(age(1)).toBe("just now");
    expect(age(42)).toBe("42 s ago");
    expect(age(600)).toBe("10 min ago");
    expect(age(7200)).toBe("2 h ago");
    expect(verdictWords("not_routed")).toBe("Not routed");
    expect(shortKey("ABCDEFGHIJKLMNOPQRSTUVWXYZ=")).toBe("ABCDEFGH…XYZ=");
    expect(where(3, 12)).toBe("line 3, column 12");
    expect(where(3, 0)).toBe("line 3");
    expect(where(0, 0)).toBe("");
  });
});
