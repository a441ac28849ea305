import { describe, expect, it } from "vitest";
import { lineStart, stem } from "./text";

describe("text", () => {
  it("finds the start of a line", () => {
    const t = "[Interface]\nAddress = 10.0.0.2/32\nListenPort = x\n";
    expect(lineStart(t, 1)).toBe(0);
    expect(lineStart(t, 2)).toBe(12);
    expect(t.slice(lineStart(t, 3)).startsWith("ListenPort")).toBe(true);
    expect(lineStart(t, 9)).toBe(t.length);
    expect(lineStart("", 0)).toBe(0);
  });

  it("takes a profile name from a file name", () => {
    expect(stem("work.png")).toBe("work");
    expect(stem("/home/me/office.vpn.jpeg")).toBe("office.vpn");
    expect(stem("C:\\qr\\home.png")).toBe("home");
    expect(stem(".hidden")).toBe(".hidden");
    expect(stem("plain")).toBe("plain");
  });
});
