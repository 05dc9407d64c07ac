import { expect } from "chai";
import { PairCache } from "../../server/store/pairCache";

describe("pair cache (the decision's read-through caches)", function () {
  it("keeps pairs apart that spell the same characters split differently", function () {
    const cache = new PairCache<string>(10);
    cache.set("0xab/", "cd", "first");
    cache.set("0xab", "/cd", "second");
    expect(cache.get("0xab/", "cd")).to.equal("first");
    expect(cache.get("0xab", "/cd")).to.equal("second");
    expect(cache.get("0xab", "cd")).to.equal(undefined);
  });

  it("remembers null (a miss) apart from nothing remembered, and forgets a deleted pair only", function () {
    const cache = new PairCache<string | null>(10);
    cache.set("s", "missing", null);
    cache.set("s", "held", "grant");
    expect(cache.get("s", "missing")).to.equal(null);
    cache.delete("s", "missing");
    cache.delete("s", null);
    cache.delete("other", "held");
    expect(cache.get("s", "missing")).to.equal(undefined);
    expect(cache.get("s", "held")).to.equal("grant");
    expect(cache.size).to.equal(1);
  });

  it("counts a replaced pair once, and forgets everything once it holds its limit", function () {
    const cache = new PairCache<number>(3);
    cache.set("a", "1", 1);
    cache.set("a", "1", 2);
    cache.set("b", "1", 3);
    expect(cache.size).to.equal(2);
    cache.set("c", "1", 4);
    expect(cache.size).to.equal(3);
    cache.set("d", "1", 5);
    expect(cache.size).to.equal(1);
    expect(cache.get("a", "1")).to.equal(undefined);
    expect(cache.get("d", "1")).to.equal(5);
  });
});
