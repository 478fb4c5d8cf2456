import { describe, expect, it } from "vitest";
import { duplicateName, slugify } from "./naming";

describe("naming", () => {
  it("slugs names like the server", () => {
    expect(slugify("Daily Sales (EU)")).toBe("daily-sales-eu");
    expect(slugify("Ünïcode  café")).toBe("unicode-cafe");
    expect(slugify("!!!")).toBe("flow");
    expect(slugify("x".repeat(80))).toHaveLength(64);
  });

  it("names a copy after the first free id", () => {
    expect(duplicateName("Sales", [])).toBe("Sales (copy)");
    expect(duplicateName("Sales", ["sales-copy"])).toBe("Sales (copy 2)");
    expect(duplicateName("Sales (copy)", ["sales-copy"])).toBe("Sales (copy 2)");
  });
});
