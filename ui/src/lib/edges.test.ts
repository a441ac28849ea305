import { describe, expect, it } from "vitest";
import { BULGE, connect, peeringPath, placed } from "./edges";

describe("map edges", () => {
  const a = { x: 0, y: 0, w: 100, h: 50 };
  it("join facing sides", () => {
    expect(connect(a, { x: 200, y: 0, w: 100, h: 50 })).toEqual({ x1: 100, y1: 25, x2: 200, y2: 25 });
    expect(connect(a, { x: 0, y: 100, w: 100, h: 50 })).toEqual({ x1: 50, y1: 50, x2: 50, y2: 100 });
    expect(connect({ x: 0, y: 100, w: 100, h: 50 }, a)).toEqual({ x1: 50, y1: 100, x2: 50, y2: 50 });
    expect(connect(a, { x: 10, y: 10, w: 10, h: 10 })).toEqual({ x1: 50, y1: 25, x2: 15, y2: 15 });
  });
  it("join stacked VPCs by a curve out to their right", () => {
    const p = peeringPath(a, { x: 0, y: 100, w: 100, h: 50 });
    expect(p.d).toBe(`M100 25C${100 + BULGE} 25 ${100 + BULGE} 125 100 125`);
    expect(p.mid.x).toBeGreaterThan(100);
    expect(peeringPath(a, { x: 200, y: 0, w: 100, h: 50 }).d).toBe("M100 25L200 25");
  });
  it("leave out edges whose ends are not drawn", () => {
    const items = [{ id: "v1", ...a }, { id: "v2", x: 200, y: 0, w: 10, h: 10 }];
    const got = placed([{ from: "v1", to: "v2" }, { from: "v1", to: "gone" }], items);
    expect(got.length).toBe(1);
    expect(got[0].edge.to).toBe("v2");
  });
});
