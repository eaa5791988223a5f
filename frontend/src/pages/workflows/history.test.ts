import { describe, expect, it } from "vitest";
import { canRedo, canUndo, record, redo, replace, startHistory, undo } from "./history";

describe("history", () => {
  it("undoes and redoes", () => {
    let h = startHistory(1);
    expect(canUndo(h)).toBe(false);
    h = record(h, 2);
    h = record(h, 3);
    expect(h.present).toBe(3);
    h = undo(h);
    expect(h.present).toBe(2);
    expect(canRedo(h)).toBe(true);
    h = undo(h);
    expect(h.present).toBe(1);
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present).toBe(2);
    h = record(h, 4);
    expect(canRedo(h)).toBe(false);
    expect(h.past).toEqual([1, 2]);
    expect(redo(h)).toBe(h);
  });

  it("keeps at most `limit` steps, and replace adds none", () => {
    let h = startHistory(0);
    for (let i = 1; i <= 10; i++) h = record(h, i, 3);
    expect(h.past).toEqual([7, 8, 9]);
    h = replace(h, 11);
    expect(h.past).toEqual([7, 8, 9]);
    expect(undo(h).present).toBe(9);
  });

  it("ignores recording the same snapshot", () => {
    const snapshot = { a: 1 };
    const h = startHistory(snapshot);
    expect(record(h, snapshot)).toBe(h);
  });
});
