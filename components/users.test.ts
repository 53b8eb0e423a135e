import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { bash, bashSyntax } from "../test/unit/bash";
import { chapterConfig, parse, PASSWORD1, PASSWORD2, PASSWORD3 } from "../test/unit/fixtures";
import { heredocBody } from "../test/unit/run";
import { OS_NAMES, PLATFORMS } from "./platform";
import { POSTFIX_MAPS } from "./postfix";
import { mapLineScript, renderMailUserDeleteScript, renderMailUserScript } from "./users";

const PASSWORDS = [PASSWORD1, PASSWORD2, PASSWORD3, "plain-password", "back\\slash\\", "trailing spaces  ", "ünïcödé-密码-🔑", "'';-- drop table", "$(reboot) now", "-n -e -E flags"];

/** Runs the script's password-reading line in bash and returns what `password` holds. */
function passwordRead(script: string): string {
    const m = /^IFS= read -r password <<'(MAILHOST_EOF(?:_\d+)?)'\n/m.exec(script);
    assert.ok(m, "the script reads the password from a here-document");
    const end = script.indexOf(`\n${m[1]}\n`, m.index) + m[1].length + 2;
    const r = bash(`${script.slice(m.index, end)}printf %s "$password"`);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
}

describe("the mail user script", () => {
    test("reads back every password exactly, whatever it contains", () => {
        for (const pw of PASSWORDS) {
            assert.equal(passwordRead(renderMailUserScript(PLATFORMS.rhel8, "liuchuan", pw, "linuxprobe.com")), pw, JSON.stringify(pw));
        }
    });

    test("holds the password once, inside the quoted here-document, and nowhere else", () => {
        const script = renderMailUserScript(PLATFORMS.rhel8, "liuchuan", PASSWORD1, "linuxprobe.com");
        assert.equal(script.split(PASSWORD1).length, 2);
        assert.equal(heredocBody(script, "IFS= read -r password"), `${PASSWORD1}\n`);
        assert.ok(script.includes("unset password"));
        // It leaves the shell only on pipes, never as an argument (visible in ps).
        const uses = script.split("\n").filter((l) => l.includes("$password"));
        assert.ok(uses.length >= 2);
        for (const l of uses) assert.match(l, /printf '%s\\n' "\$password" \| openssl passwd -6 (-salt "\$salt" )?-stdin/, l);
    });

    test("creates a mail-only account (no login shell) and registers its mailbox and sender address", () => {
        for (const os of OS_NAMES) {
            const p = PLATFORMS[os];
            const script = renderMailUserScript(p, "liuchuan", PASSWORD1, "linuxprobe.com");
            assert.ok(script.includes(`user='liuchuan'`));
            assert.ok(script.includes(`useradd --create-home --shell ${p.nologinShell} `));
            assert.ok(script.includes(`usermod --shell ${p.nologinShell} "$user"`));
            assert.ok(script.includes(`'liuchuan lmtp:unix:private/dovecot-lmtp'`));
            assert.ok(script.includes(`'liuchuan@linuxprobe.com liuchuan'`));
            assert.equal(bashSyntax(script).stderr, "");
        }
    });

    test("every password parseConfig accepts gives a script", () => {
        for (const pw of [...PASSWORDS, "MAILHOST_EOF"]) {
            const cfg = parse({ ...chapterConfig(), users: [{ name: "liuchuan", password: pw }] });
            assert.equal(cfg.users.length, 1);
            assert.equal(passwordRead(renderMailUserScript(PLATFORMS.rhel8, "liuchuan", pw, "linuxprobe.com")), pw);
        }
    });
});

describe("removing a mail user", () => {
    test("keeps the home directory and mail unless purgeOnDelete", () => {
        const keep = renderMailUserDeleteScript("liuchuan", "linuxprobe.com", false);
        assert.ok(keep.includes(`userdel "$user"`));
        assert.ok(!keep.includes("--remove"));
        const purge = renderMailUserDeleteScript("liuchuan", "linuxprobe.com", true);
        assert.ok(purge.includes(`userdel --remove "$user"`));
    });

    test("removes the user's map lines; passes bash -n", () => {
        const script = renderMailUserDeleteScript("liuchuan", "linuxprobe.com", false);
        assert.ok(script.includes(`awk -v k='liuchuan' '$1 != k' ${POSTFIX_MAPS.mailboxes}`));
        assert.ok(script.includes(`awk -v k='liuchuan@linuxprobe.com' '$1 != k' ${POSTFIX_MAPS.senders}`));
        assert.equal(bashSyntax(script).stderr, "");
        assert.equal(bashSyntax(script).status, 0);
    });
});

describe("map lines", () => {
    /** Runs the first line of mapLineScript (the new map content) against `current`. */
    function newMap(key: string, value: string, current: string): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailhost-map-"));
        try {
            const map = path.join(dir, "mailboxes");
            fs.writeFileSync(map, current);
            const [build, install] = mapLineScript(map, key, value);
            assert.match(install, /^if mh_put .* then postmap hash:/);
            const r = bash(`mh_stage="$1"\n${build}\ncat "$mh_stage/map"`, [dir]);
            assert.equal(r.status, 0, r.stderr);
            return r.stdout;
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    test("set a key's line, keep the others, sorted", () => {
        assert.equal(newMap("liuchuan", "lmtp:x", "zhang lmtp:x\nadmin lmtp:x\n"), "admin lmtp:x\nliuchuan lmtp:x\nzhang lmtp:x\n");
        assert.equal(newMap("liuchuan", "lmtp:new", "liuchuan lmtp:old\nzhang lmtp:x\n"), "liuchuan lmtp:new\nzhang lmtp:x\n");
    });

    test("an empty value removes the key's line; other keys sharing a prefix stay", () => {
        assert.equal(newMap("liu", "", "liu lmtp:x\nliuchuan lmtp:x\n"), "liuchuan lmtp:x\n");
    });
});
