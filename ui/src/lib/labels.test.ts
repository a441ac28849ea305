import { describe, expect, it } from "vitest";
import { BASE_LABEL, fitText, labelFont, MIN_LABEL_PX } from "./labels";

describe("host labels", () => {
  it("are never smaller than the minimum on screen while shown", () => {
    for (const scale of [0.3, 0.44, 0.6, 0.9, 1, 1.5]) {
      const f = labelFont(scale, 36);
      if (f.shown) expect(f.size * scale).toBeGreaterThanOrEqual(MIN_LABEL_PX - 1e-9);
    }
    expect(labelFont(1.5, 36).size).toBe(BASE_LABEL);
  });
  it("hide when the box is too small on screen, and drop the second line first", () => {
    expect(labelFont(0.2, 36).shown).toBe(false);
    expect(labelFont(0.44, 36)).toMatchObject({ shown: true, second: false });
    expect(labelFont(1, 36)).toMatchObject({ shown: true, second: true });
  });
  it("are cut to their box", () => {
    expect(fitText("host-12", 12, 138)).toBe("host-12");
    const cut = fitText("a-very-long-host-name-indeed", 26, 138);
    expect(cut.endsWith("…")).toBe(true);
    expect(cut.length * 26 * 0.64).toBeLessThanOrEqual(138);
    expect(fitText("abc", 100, 10)).toBe("…");
  });
});
