import { describe, expect, it } from "vitest";
import { chart, nextTracks, roundUp, type RateTrack } from "./rates";

const conn = (name: string, state: string, rx: number, tx: number) => ({ name, state, rx_bytes: rx, tx_bytes: tx });

describe("nextTracks", () => {
  it("turns successive counters into bytes per second", () => {
    let t: Record<string, RateTrack> = {};
    t = nextTracks(t, [conn("demo", "connected", 1000, 500)], 0);
    expect(t.demo.points).toEqual([]);
    t = nextTracks(t, [conn("demo", "connected", 3000, 1500)], 1000);
    expect(t.demo.points).toEqual([{ at: 1000, rx: 2000, tx: 1000 }]);
    t = nextTracks(t, [conn("demo", "connected", 3000, 2500)], 3000);
    expect(t.demo.points.at(-1)).toEqual({ at: 3000, rx: 0, tx: 500 });
  });

  it("ignores a payload too close to the previous one", () => {
    let t = nextTracks({}, [conn("a", "connected", 0, 0)], 0);
    t = nextTracks(t, [conn("a", "connected", 100, 100)], 50);
    expect(t.a.points).toEqual([]);
    expect(t.a.at).toBe(0);
    t = nextTracks(t, [conn("a", "connected", 1000, 0)], 1000);
    expect(t.a.points).toEqual([{ at: 1000, rx: 1000, tx: 0 }]);
  });

  it("starts again after a reconnect and forgets stopped connections", () => {
    let t = nextTracks({}, [conn("a", "connected", 0, 0), conn("b", "connected", 0, 0)], 0);
    t = nextTracks(t, [conn("a", "connected", 5000, 5000), conn("b", "connected", 10, 10)], 1000);
    t = nextTracks(t, [conn("a", "connecting", 10, 0), conn("b", "disconnected", 10, 10)], 2000);
    expect(t.a).toEqual({ at: 2000, rx_bytes: 10, tx_bytes: 0, points: [] });
    expect(t.b).toBeUndefined();
  });

  it("keeps the last points only, and treats bad counters as zero", () => {
    let t: Record<string, RateTrack> = {};
    for (let i = 0; i <= 10; i++) t = nextTracks(t, [conn("a", "connected", i * 100, Number.NaN)], i * 1000, 4);
    expect(t.a.points.map((p) => p.at)).toEqual([7000, 8000, 9000, 10000]);
    expect(t.a.points.every((p) => p.rx === 100 && p.tx === 0)).toBe(true);
  });
});

describe("chart", () => {
  it("puts the newest point at the right edge on a round scale", () => {
    const g = chart(
      [
        { at: 0, rx: 0, tx: 1024 },
        { at: 1, rx: 1500, tx: 0 },
      ],
      100,
      40,
      11,
    );
    expect(g.max).toBe(2048);
    expect(g.rx).toBe("90,40 100,10.7");
    expect(g.tx).toBe("90,20 100,40");
  });

  it("draws nothing without points and has a floor of 1 KiB/s", () => {
    expect(chart([], 100, 40)).toEqual({ rx: "", tx: "", max: 1024 });
  });

  it("rounds scales to 1, 2, 5 steps", () => {
    expect(roundUp(1024)).toBe(1024);
    expect(roundUp(1100)).toBe(2048);
    expect(roundUp(3 * 1024)).toBe(5 * 1024);
    expect(roundUp(700 * 1024)).toBe(1000 * 1024);
    expect(roundUp(3 * 1024 * 1024)).toBe(5 * 1024 * 1024);
  });
});
