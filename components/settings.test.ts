import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergeSettings, settingLines } from "./settings";

describe("settings", () => {
    test("an override keeps the key's place; a new key is appended; each key once", () => {
        const merged = mergeSettings(
            [["a", "1"], ["b", "2"], ["c", "3"]],
            [["b", "20"], ["d", "4"]],
        );
        assert.deepEqual(merged, [["a", "1"], ["b", "20"], ["c", "3"], ["d", "4"]]);
    });

    test("key = value lines; an empty value is written as `key =`", () => {
        assert.deepEqual(settingLines([["relay_domains", ""], ["biff", "no"]]), ["relay_domains =", "biff = no"]);
    });
});
