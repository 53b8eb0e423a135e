import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { bash, bashSyntax } from "../test/unit/bash";
import { heredoc, PRELUDE, shq, stepScript } from "./shell";

/** Values a shell would misread if they were not quoted. */
const TRICKY = [
    "plain",
    "",
    "it's",
    "'",
    "''''",
    `"double" quotes`,
    "$(echo expanded)",
    "`echo expanded`",
    "${HOME} $HOME $1 $@ $*",
    "two  spaces and\ttab",
    " leading and trailing ",
    "a;b && c || d | e & f",
    "<in >out 2>&1",
    "*.glob ? [abc]",
    "!bang !! !$",
    "back\\slash \\' \\\\",
    "line one\nline two\n",
    "~user ~",
    "ünïcödé 密码 🔑 ñ",
    "#not a comment",
    "-n",
    "--",
];

describe("shq", () => {
    test("quotes every value as one word that bash reads back unchanged", () => {
        // All values in one bash process: printf prints each argument it receives,
        // NUL-separated, so both the values and their number are checked.
        const r = bash(`printf '%s\\0' ${TRICKY.map(shq).join(" ")}`);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.stdout.split("\0").slice(0, -1), TRICKY);
    });

    test("round-trips as an argument of bash -c 'printf %s \"$1\"'", () => {
        for (const v of TRICKY) {
            const r = bash(`bash -c 'printf %s "$1"' _ ${shq(v)}`);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stdout, v, `value ${JSON.stringify(v)}`);
        }
    });

    test("never runs command substitutions inside the value", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailhost-shq-"));
        try {
            const marker = path.join(dir, "pwned");
            const values = [`$(touch ${marker})`, `\`touch ${marker}\``, `'; touch ${marker}; '`, `"; touch ${marker}; "`];
            for (const v of values) {
                const r = bash(`x=${shq(v)}; eval "y=\${x@Q}"; printf %s "$y"`);
                assert.equal(r.stdout, v);
                assert.equal(bash(`printf %s ${shq(v)}`).stdout, v);
            }
            assert.equal(fs.existsSync(marker), false, "a quoted value ran a command");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("produces a single-quoted word", () => {
        assert.equal(shq("abc"), "'abc'");
        assert.equal(shq("it's"), `'it'\\''s'`);
        assert.equal(shq(""), "''");
    });

    test("rejects a NUL byte, which no shell word can carry", () => {
        assert.throws(() => shq("a\0b"), /NUL/);
        assert.throws(() => shq("\0"), /NUL/);
    });
});

describe("heredoc", () => {
    test("feeds the content verbatim, without expansion, ending with a newline", () => {
        const content = "$HOME `id` $(id) \\n 'single' \"double\"\n  indented\n\ttab\nünï 密码";
        const r = bash(heredoc("cat", content));
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, `${content}\n`);
        assert.equal(bash(heredoc("cat", "ends with newline\n")).stdout, "ends with newline\n");
        assert.equal(bash(heredoc("cat", "")).stdout, "\n");
    });

    test("is a quoted here-document with its terminator alone on the last line", () => {
        assert.equal(heredoc("cat >f", "x"), "cat >f <<'MAILHOST_EOF'\nx\nMAILHOST_EOF");
    });

    test("picks another terminator when the content holds the usual one, and round-trips", () => {
        for (const content of ["MAILHOST_EOF", "before\nMAILHOST_EOF\nafter", "MAILHOST_EOF\nMAILHOST_EOF_1\n"]) {
            const script = heredoc("cat", content);
            assert.ok(!script.startsWith("cat <<'MAILHOST_EOF'\n"), script);
            const r = bash(script);
            assert.equal(r.stdout, content.endsWith("\n") ? content : `${content}\n`);
        }
    });

    test("continues the command's line after the here-document opener", () => {
        const r = bash(heredoc("cat", "x", "&& echo after"));
        assert.equal(r.stdout, "x\nafter\n");
    });

    test("accepts the terminator as part of a longer line", () => {
        for (const content of ["MAILHOST_EOF2", " MAILHOST_EOF", "x MAILHOST_EOF y", "MAILHOST_EOF\t"]) {
            const r = bash(heredoc("cat", content));
            assert.equal(r.stdout, `${content}\n`);
        }
    });
});

describe("stepScript", () => {
    test("is a bash script that stops on the first error and passes bash -n", () => {
        const s = stepScript("title", ["echo one", "echo two"]);
        assert.match(s, /^#!\/bin\/bash\n# mailhost: title\n/);
        assert.ok(s.includes("set -euo pipefail"));
        assert.ok(s.endsWith("echo one\necho two\n"));
        const r = bashSyntax(s);
        assert.equal(r.status, 0);
        assert.equal(r.stderr, "");
    });

    test("the prelude serialises steps with a lock and cleans its staging directory", () => {
        assert.match(PRELUDE, /^flock 9$/m);
        assert.match(PRELUDE, /^trap 'rm -rf "\$mh_stage"' EXIT$/m);
        assert.match(PRELUDE, /^mh_validate\(\) \{$/m);
        assert.match(PRELUDE, /^mh_put\(\) \{$/m);
    });
});
