/**
 * A deployed system changed by later applies: each change runs only the commands it
 * concerns, and does what it says on the host. A config the validators reject fails
 * the deploy and leaves the running system serving mail.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { bootHost, TestHost } from "../testhost/testhost";
import { assertApplied, chapterConfig, ensureTestImage, dig, DOMAIN, eventually, mailbox, printTimings, queueEmpty, swaks, TestStack, timed } from "./lib";

let host: TestHost;
let stack: TestStack;
let base: Record<string, unknown>;

const send = (to: string, subject: string) =>
    swaks(host, ["--to", `${to}@${DOMAIN}`, "--from", `client@${DOMAIN}`, "--header", `Subject: ${subject}`, "--helo", "client.linuxprobe.com"]);

async function serial(): Promise<number> {
    const soa = await dig(host, DOMAIN, "SOA");
    return Number(soa[0].split(" ")[2]);
}

describe("changing a deployed mail system", () => {
    before(async () => {
        await ensureTestImage();
        host = await timed("host boot", () => bootHost(12, { replace: true }));
        stack = new TestStack(host);
        base = chapterConfig(host, {
            users: [
                { name: "liuchuan", password: "first-password" },
                { name: "zhangsan", password: "zhangsan-password" },
            ],
            aliases: { dream: "root", sales: "zhangsan" },
        });
        assertApplied(await timed("first apply", () => stack.up(base)));
        assert.equal((await send("zhangsan", "before-removal")).code, 0);
        assert.ok(await queueEmpty(host));
    });
    after(async () => {
        await host?.down();
        printTimings("changes.e2e");
    });

    test("a password change runs one command: the old password is refused, the new one accepted", async () => {
        const config = { ...base, users: [{ name: "liuchuan", password: "second-password" }, (base.users as unknown[])[1]] };
        const r = assertApplied(await timed("apply: one password changed", () => stack.up(config)));
        assert.deepEqual(r.executed.map((c) => `${c.operation} ${c.resource}`), ["update mailhost-user-liuchuan-account"]);
        assert.equal((await mailbox(host, "imaps", "liuchuan", "first-password")).ok, false);
        const now = await mailbox(host, "imaps", "liuchuan", "second-password");
        assert.equal(now.ok, true, now.error);
        base = config;
    });

    test("an alias added and one removed: only the aliases command runs", async () => {
        const config = { ...base, aliases: { dream: "root", info: ["liuchuan", "zhangsan"] } };
        const r = assertApplied(await timed("apply: aliases changed", () => stack.up(config)));
        assert.deepEqual(r.executed.map((c) => `${c.operation} ${c.resource}`), ["update mailhost-aliases-aliases"]);
        assert.equal((await send("info", "to-info")).code, 0);
        assert.ok(await queueEmpty(host));
        for (const [user, pw] of [["liuchuan", "second-password"], ["zhangsan", "zhangsan-password"]]) {
            const got = await eventually(async () => ((await mailbox(host, "imaps", user, pw)).subjects ?? []).includes("to-info"));
            assert.ok(got, `${user} did not get mail sent to info@`);
        }
        const removed = await swaks(host, ["--to", `sales@${DOMAIN}`, "--from", `client@${DOMAIN}`, "--helo", "client.linuxprobe.com", "--quit-after", "RCPT"]);
        assert.match(removed.stdout, /<\*\* 550/, "the removed alias still accepts mail");
        base = config;
    });

    test("a DNS record added is served and the zone serial grows", async () => {
        const before = await serial();
        const config = { ...base, dns: { extraRecords: [{ name: "www", type: "A", value: "192.0.2.80" }] } };
        const r = assertApplied(await timed("apply: DNS record added", () => stack.up(config)));
        assert.deepEqual(r.executed.map((c) => `${c.operation} ${c.resource}`), ["update mailhost-dns-zone"]);
        assert.deepEqual(await dig(host, `www.${DOMAIN}`, "A"), ["192.0.2.80"]);
        assert.ok((await serial()) > before, "the serial did not grow");
        base = config;
    });

    test("a user removed: its login is refused and its mail is kept", async () => {
        const config = { ...base, users: [(base.users as unknown[])[0]], aliases: { dream: "root", info: "liuchuan" } };
        const r = assertApplied(await timed("apply: user removed", () => stack.up(config)));
        assert.deepEqual(r.executed.map((c) => `${c.operation} ${c.resource}`).sort(), ["delete mailhost-user-zhangsan-account", "update mailhost-aliases-aliases"]);
        assert.equal((await mailbox(host, "imaps", "zhangsan", "zhangsan-password")).ok, false);
        assert.notEqual((await host.exec("id zhangsan")).code, 0, "the account still exists");
        const kept = await host.exec("grep -rl before-removal /home/zhangsan/Maildir");
        assert.equal(kept.code, 0, "the removed user's mail is gone");
        base = config;
    });

    for (const [what, extra, validator] of [
        ["Postfix", { postfixSettings: { smtpd_tls_security_levl: "may" } }, /postconf|unused parameter/],
        ["Dovecot", { dovecotSettings: { mail_locaton: "maildir:~/Mail" } }, /doveconf|Unknown setting/i],
    ] as const) {
        test(`an invalid ${what} setting fails the deploy with the validator's message; mail keeps flowing`, async () => {
            const r = await stack.up({ ...base, ...extra });
            assert.ok(r.failed, "the deploy did not fail");
            assert.match(r.failed.stderr, validator);
            assert.match(r.failed.stderr, /running configuration is unchanged/);
            assert.equal((await send("liuchuan", `after-bad-${what}`)).code, 0);
            const got = await eventually(async () => ((await mailbox(host, "imaps", "liuchuan", "second-password")).subjects ?? []).includes(`after-bad-${what}`));
            assert.ok(got, "mail stopped flowing after a rejected config");
            // The next apply of the good config changes nothing: the live files were never touched.
            const again = assertApplied(await stack.up(base));
            assert.deepEqual(again.executed.map((c) => c.resource), []);
        });
    }
});
