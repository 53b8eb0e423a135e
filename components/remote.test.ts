import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bash } from "../test/unit/bash";
import { deleteCommand, runAsRoot } from "./remote";
import { shq } from "./shell";

describe("remote commands", () => {
    test("run the stdin script as root: bash -s for root, sudo -n bash -s otherwise", () => {
        assert.equal(runAsRoot("root"), "bash -s");
        assert.equal(runAsRoot("ec2-user"), "sudo -n bash -s");
        assert.equal(runAsRoot("admin"), "sudo -n bash -s");
    });

    test("a delete command runs its script as one quoted argument and ignores stdin", () => {
        const script = `printf '%s|' "it's" '$(id)' '\`id\`'`;
        assert.equal(deleteCommand("root", script), `bash -c ${shq(script)} </dev/null`);
        assert.match(deleteCommand("ec2-user", script), /^sudo -n bash -c '/);
        const r = bash(deleteCommand("root", script), [], "stdin that must be ignored\n");
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "it's|$(id)|`id`|");
    });
});
