import { describe, expect, it } from "vitest";
import { bounds, fit, hit, pan, paths, search, visible, zoomAt, MAX_SCALE, MIN_SCALE } from "./viewport";

const grid = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ x: (i % 100) * 140, y: Math.floor(i / 100) * 48, w: 132, h: 40, name: `h${i}`, ips: [`10.0.${Math.floor(i / 250)}.${i % 250}`], groups: i % 2 ? ["sg-odd"] : [] }));

describe("viewport", () => {
  it("fits the drawing into the screen", () => {
    const v = fit({ width: 1000, height: 500 }, 816, 416);
    expect(v.scale).toBeCloseTo(0.768, 3);
    expect(fit({ width: 10, height: 10 }, 800, 600).scale).toBe(1.5);
    expect(fit({ width: 1e9, height: 1e9 }, 800, 600).scale).toBe(MIN_SCALE);
  });

  it("centres the fitted drawing, wherever it starts", () => {
    // 400×100 at (1000, 2000) into 832×432: scale 2 is capped at 1.5.
    const v = fit({ x: 1000, y: 2000, width: 400, height: 100 }, 832, 432);
    expect(v.scale).toBe(1.5);
    const left = (1000 - v.x) * v.scale;
    const right = 832 - (1400 - v.x) * v.scale;
    const top = (2000 - v.y) * v.scale;
    const bottom = 432 - (2100 - v.y) * v.scale;
    expect(left).toBeCloseTo(right);
    expect(top).toBeCloseTo(bottom);
    // A wide drawing fills the width, less the margins.
    const w = fit({ width: 2000, height: 100 }, 1016, 600);
    expect(w.scale).toBeCloseTo(0.492, 3);
    expect(-w.x * w.scale).toBeCloseTo(16);
  });

  it("bounds the items, or the whole map when there are none", () => {
    expect(bounds([{ x: 10, y: 20, w: 5, h: 5 }, { x: -3, y: 40, w: 10, h: 10 }], { width: 1, height: 1 })).toEqual({ x: -3, y: 20, width: 18, height: 30 });
    expect(bounds([], { width: 300, height: 200 })).toEqual({ x: 0, y: 0, width: 300, height: 200 });
  });

  it("zooms around the pointer and clamps the scale", () => {
    const v = { x: 0, y: 0, scale: 1 };
    const z = zoomAt(v, 2, 100, 50);
    // The drawing point under the pointer (100, 50) stays under it.
    expect(z.x + 100 / z.scale).toBeCloseTo(100);
    expect(z.y + 50 / z.scale).toBeCloseTo(50);
    expect(zoomAt(v, 1000, 0, 0).scale).toBe(MAX_SCALE);
    expect(zoomAt(v, 0.00001, 0, 0).scale).toBe(MIN_SCALE);
  });

  it("pans by screen pixels whatever the zoom", () => {
    expect(pan({ x: 10, y: 10, scale: 2 }, 20, -40)).toEqual({ x: 0, y: 30, scale: 2 });
  });

  it("draws only what is in view", () => {
    const items = grid(5000);
    const all = visible(items, { x: 0, y: 0, scale: 0.02 }, 800, 600);
    expect(all.length).toBe(5000);
    const some = visible(items, { x: 0, y: 0, scale: 1 }, 800, 600);
    expect(some.length).toBeGreaterThan(0);
    expect(some.length).toBeLessThan(200);
    expect(some.every((r) => r.x <= 850 && r.y <= 650)).toBe(true);
  });

  it("searches by name, IP, group and tag", () => {
    const items = grid(10);
    expect(search(items, "h3").map((h) => h.name)).toEqual(["h3"]);
    expect(search(items, "10.0.0.7").map((h) => h.name)).toEqual(["h7"]);
    expect(search(items, "SG-ODD").length).toBe(5);
    expect(search(items, "  ")).toEqual([]);
    const tagged = items.map((h, i) => ({ ...h, tags: [`env=${i % 2 ? "prod" : "dev"}`] }));
    expect(search(tagged, "env=prod").length).toBe(5);
  });

  it("draws a dense map as one path per verdict", () => {
    const rs = [
      { x: 0, y: 0, w: 10, h: 5, v: "a" },
      { x: 20, y: 0, w: 10, h: 5, v: "b" },
      { x: 40, y: 10, w: 2, h: 3, v: "a" },
    ];
    expect(paths(rs, (r) => r.v)).toEqual([
      { group: "a", d: "M0 0h10v5h-10zM40 10h2v3h-2z" },
      { group: "b", d: "M20 0h10v5h-10z" },
    ]);
    expect(paths([], () => "x")).toEqual([]);
  });

  it("finds the host under a point", () => {
    const rs = [
      { x: 0, y: 0, w: 10, h: 10, n: 1 },
      { x: 5, y: 5, w: 10, h: 10, n: 2 },
    ];
    expect(hit(rs, 7, 7)?.n).toBe(2);
    expect(hit(rs, 2, 2)?.n).toBe(1);
    expect(hit(rs, 50, 50)).toBeUndefined();
  });
});
