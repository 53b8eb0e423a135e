import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { bash, bashSyntax } from "../test/unit/bash";
import { assertExpected, renderChapterFiles } from "../test/unit/expected";
import { BLOCK_BEGIN, BLOCK_END, renderAliasesBlock, renderAliasesScript, renderAliasSenders } from "./aliases";
import { OS_NAMES, PLATFORMS } from "./platform";
import { POSTFIX_MAPS } from "./postfix";

/** RHEL 8's stock /etc/aliases, shortened, with a stale definition of dream. */
const RHEL_ALIASES = `#
#  Aliases in this file will NOT be expanded in the header from
#  Mail, but WILL be visible over networks or from /bin/mail.

# Basic system aliases -- these MUST be present.
mailer-daemon:	postmaster
postmaster:	root

# General redirections for pseudo accounts.
bin:		root
daemon:		root
dream:		olduser
# dream: a commented definition stays
`;


/**
 * Runs the part of the aliases script that builds the new /etc/aliases (everything
 * up to the validation) against `current` instead of /etc/aliases, and returns it.
 */
function apply(script: string, current: string): string {
    const body = script.slice(script.indexOf(`cat >"$mh_stage/block"`), script.indexOf(`mh_validate "aliases"`));
    assert.ok(body.includes(" /etc/aliases >"), "the script reads /etc/aliases");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailhost-aliases-"));
    try {
        fs.writeFileSync(path.join(dir, "aliases.in"), current);
        const r = bash(`mh_stage="$1"\n${body.replace(" /etc/aliases >", ` "$mh_stage/aliases.in" >`)}`, [dir]);
        assert.equal(r.status, 0, r.stderr);
        return fs.readFileSync(path.join(dir, "aliases"), "utf8");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const args = { domain: "linuxprobe.com", aliases: [["dream", ["root"]]] as [string, string[]][], userNames: ["liuchuan"] };

describe("the aliases block", () => {
    test("RHEL 8: the chapter's dream: root between the markers", () => {
        assert.equal(renderAliasesBlock(PLATFORMS.rhel8, [["dream", ["root"]]]), `${BLOCK_BEGIN}\ndream: root\n${BLOCK_END}\n`);
    });

    test("Debian 12: adds the system aliases RHEL has and Debian lacks (bin: root...)", () => {
        const block = renderAliasesBlock(PLATFORMS.debian12, [["dream", ["root"]]]);
        for (const line of ["bin: root", "daemon: root", "nobody: root", "dream: root"]) assert.ok(block.split("\n").includes(line), line);
    });

    test("an alias of the config replaces the system alias of the same name, listed once", () => {
        const block = renderAliasesBlock(PLATFORMS.debian12, [["bin", ["liuchuan"]]]);
        const lines = block.split("\n");
        assert.ok(lines.includes("bin: liuchuan"));
        assert.ok(!lines.includes("bin: root"));
    });

    test("several targets are listed comma-separated", () => {
        assert.ok(renderAliasesBlock(PLATFORMS.rhel8, [["info", ["liuchuan", "someone@example.org"]]]).includes("\ninfo: liuchuan, someone@example.org\n"));
    });

    for (const os of OS_NAMES) {
        test(`${os}: equal to test/expected/${os}/aliases-block`, () => {
            assertExpected(os, "aliases-block", renderChapterFiles(os)["aliases-block"]);
        });
    }
});

describe("alias senders", () => {
    test("users may send as the aliases that reach them; others are not listed", () => {
        const aliases: [string, string[]][] = [
            ["dream", ["root"]],
            ["info", ["liuchuan", "wang", "someone@example.org"]],
        ];
        assert.equal(renderAliasSenders("linuxprobe.com", aliases, ["liuchuan", "wang"]), "info@linuxprobe.com liuchuan,wang\n");
        assert.equal(renderAliasSenders("linuxprobe.com", [["dream", ["root"]]], ["liuchuan"]), "");
    });
});

describe("the aliases step script", () => {
    test("keeps the distribution's aliases and comments, replaces an old definition of a managed alias", () => {
        const out = apply(renderAliasesScript(PLATFORMS.rhel8, args), RHEL_ALIASES);
        const lines = out.split("\n");
        for (const kept of ["postmaster:\troot", "bin:\t\troot", "mailer-daemon:\tpostmaster", "# dream: a commented definition stays"]) {
            assert.ok(lines.includes(kept), `lost: ${kept}`);
        }
        assert.ok(!lines.includes("dream:\t\tolduser"), "the stale definition of dream is still there");
        assert.equal(lines.filter((l) => l === "dream: root").length, 1);
        assert.ok(out.endsWith(`${BLOCK_BEGIN}\ndream: root\n${BLOCK_END}\n`));
    });

    test("is idempotent: a second run gives the same file", () => {
        const script = renderAliasesScript(PLATFORMS.debian12, args);
        const once = apply(script, "postmaster: root\n");
        assert.equal(apply(script, once), once);
        assert.equal(once.split("\n").filter((l) => l === BLOCK_BEGIN).length, 1);
    });

    test("removing an alias from the config removes it from the file", () => {
        const before = apply(renderAliasesScript(PLATFORMS.rhel8, { ...args, aliases: [["dream", ["root"]], ["info", ["liuchuan"]]] }), RHEL_ALIASES);
        assert.ok(before.includes("\ninfo: liuchuan\n"));
        const after = apply(renderAliasesScript(PLATFORMS.rhel8, args), before);
        assert.ok(!after.includes("info:"));
    });

    test("validates the new file with postalias before it replaces /etc/aliases, then runs newaliases", () => {
        const script = renderAliasesScript(PLATFORMS.rhel8, args);
        const validate = script.indexOf(`mh_validate "aliases" postalias`);
        const put = script.indexOf("mh_put /etc/aliases ");
        assert.ok(validate > 0 && put > validate);
        assert.match(script, /mh_put \/etc\/aliases .*then newaliases; fi/);
        assert.ok(script.includes(`mh_put ${POSTFIX_MAPS.aliasSenders} `));
        assert.equal(bashSyntax(script).stderr, "");
        assert.equal(bashSyntax(script).status, 0);
    });
});
