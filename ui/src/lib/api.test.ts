import { describe, expect, it, vi } from "vitest";

// A backend that has one contract command and not the others.
vi.mock("../bindings", () => ({
  commands: {
    prefix: "saved:",
    async profileText(this: { prefix: string }, name: string) {
      return { status: "ok", data: `${this.prefix}${name}` };
    },
  },
}));

const { contract, has } = await import("./api");

describe("contract commands", () => {
  it("knows which commands this build has", () => {
    expect(has("profileText")).toBe(true);
    expect(has("getSettings")).toBe(false);
    expect(has("mapFromFile")).toBe(false);
  });

  it("calls a present command on the generated object", async () => {
    expect(await contract("profileText")("work")).toEqual({ status: "ok", data: "saved:work" });
  });

  it("refuses a missing command by name instead of invoking it", () => {
    expect(() => contract("mapFromFile")).toThrow(/"mapFromFile"/);
  });
});
