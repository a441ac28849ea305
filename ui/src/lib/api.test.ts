import { describe, expect, it, vi } from "vitest";

// A backend that has one contract command and not the others.
vi.mock("../bindings", () => ({
  commands: {
    prefix: "saved:",
    async setDigitaloceanToken(this: { prefix: string }, token: string) {
      return { status: "ok", data: `${this.prefix}${token.length}` };
    },
  },
}));

const { contract, has } = await import("./api");

describe("contract commands", () => {
  it("knows which commands this build has", () => {
    expect(has("setDigitaloceanToken")).toBe(true);
    expect(has("mapFromAws")).toBe(false);
    expect(has("mapFromDigitalocean")).toBe(false);
  });

  it("calls a present command on the generated object", async () => {
    expect(await contract("setDigitaloceanToken")("dop_v1_x")).toEqual({ status: "ok", data: "saved:8" });
  });

  it("refuses a missing command by name instead of invoking it", () => {
    expect(() => contract("mapFromAws")).toThrow(/"mapFromAws"/);
  });
});
