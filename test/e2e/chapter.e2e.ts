/**
 * The chapter's scenario on a bare Debian 12 host: the program's own install step
 * installs the mail packages (from the local apt repository), then real clients
 * check DNS, SMTP, POP3, IMAP, aliases, the firewall, idempotence, restarts and a
 * full stop/start of the host.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { bootHost, TestHost } from "../testhost/testhost";
import { assertApplied, chapterConfig, ensureTestImage, dig, DOMAIN, eventually, HOSTNAME, mailbox, printTimings, queueEmpty, run, swaks, TestStack, timed } from "./lib";
import { runRemote } from "./replay";

const PASSWORD = "linuxprobe-e2e";
// A password that would break any script that let a shell see it.
const NASTY_USER = "wei";
const NASTY_PASSWORD = `it's "q" $(touch /tmp/pwned) \`id\` ; | & 密码 ü`;

let host: TestHost;
let stack: TestStack;
let config: Record<string, unknown>;

describe("chapter 15 on a bare Debian 12 host", () => {
    before(async () => {
        await timed("image (cached after the first build)", () => ensureTestImage());
        host = await timed("host boot", () => bootHost(11, { replace: true }));
        stack = new TestStack(host);
        config = chapterConfig(host, {
            users: [
                { name: "liuchuan", password: PASSWORD },
                { name: NASTY_USER, password: NASTY_PASSWORD },
            ],
        });
    });
    after(async () => {
        await host?.down();
        printTimings("chapter.e2e");
    });

    test("first apply installs the packages and configures every daemon", async () => {
        const before = await host.exec("dpkg -l postfix dovecot-core bind9 firewalld 2>/dev/null | grep -c '^ii' || true");
        assert.equal(before.stdout.trim(), "0", "the host must start without the mail packages");
        const r = assertApplied(await timed("first apply", () => stack.up(config)));
        // Independent steps start together; their seconds include waiting for the host's step lock.
        process.stdout.write(`# first apply: ${r.executed.length} remote commands, in the order they finished\n`);
        for (const c of r.executed) process.stdout.write(`#   ${c.seconds.toFixed(1).padStart(6)} s  ${c.operation} ${c.resource}\n`);
        for (const unit of ["postfix", "dovecot", "named", "firewalld"]) {
            const s = await host.exec(`systemctl is-active ${unit} && systemctl is-enabled ${unit}`);
            assert.equal(s.code, 0, `${unit}: ${s.stdout}${s.stderr}`);
        }
        assert.equal((await host.exec("hostname")).stdout.trim(), HOSTNAME);
        const pwned = await host.exec("test -e /tmp/pwned");
        assert.notEqual(pwned.code, 0, "a password was interpreted by a shell");
    });

    test("BIND answers MX, A and NS for the domain", async () => {
        assert.deepEqual(await dig(host, DOMAIN, "MX"), [`10 ${HOSTNAME}.`]);
        assert.deepEqual(await dig(host, HOSTNAME, "A"), [host.ip]);
        assert.deepEqual(await dig(host, DOMAIN, "NS"), [`ns.${DOMAIN}.`]);
        assert.deepEqual(await dig(host, `ns.${DOMAIN}`, "A"), [host.ip]);
    });

    test("BIND is no open resolver", async () => {
        const r = await run("dig", [`@${host.ip}`, "-b", host.clientIp, "+time=3", "+tries=1", "example.org", "A"]);
        assert.match(r.stdout, /status: REFUSED/);
    });

    test("mail from a trusted client reaches liuchuan over POP3 and IMAP", async () => {
        const s = await swaks(host, ["--to", `liuchuan@${DOMAIN}`, "--from", `client@${DOMAIN}`, "--header", "Subject: chapter-pop-imap", "--helo", "client.linuxprobe.com"]);
        assert.equal(s.code, 0, s.stdout + s.stderr);
        assert.ok(await queueEmpty(host));
        const ok = await eventually(async () => ((await mailbox(host, "pop3", "liuchuan", PASSWORD)).subjects ?? []).includes("chapter-pop-imap"));
        assert.ok(ok, "the message did not arrive in liuchuan's POP3 mailbox");
        const imap = await mailbox(host, "imaps", "liuchuan", PASSWORD);
        assert.equal(imap.ok, true, imap.error);
        assert.ok(imap.subjects?.includes("chapter-pop-imap"), JSON.stringify(imap));
        const maildir = await host.exec("ls /home/liuchuan/Maildir/new /home/liuchuan/Maildir/cur | grep -c . ");
        assert.ok(Number(maildir.stdout.trim()) >= 1, "the message is not in ~/Maildir");
    });

    test("mail to bin@ and dream@ lands in root's mailbox, and mailx lists it", async () => {
        for (const to of ["bin", "dream"]) {
            const s = await swaks(host, ["--to", `${to}@${DOMAIN}`, "--from", `client@${DOMAIN}`, "--header", `Subject: to-${to}`, "--helo", "client.linuxprobe.com"]);
            assert.equal(s.code, 0, s.stdout + s.stderr);
        }
        assert.ok(await queueEmpty(host));
        const listed = await eventually(async () => {
            const m = await host.exec("printf 'x\\n' | mailx -f /var/mail/root");
            return /to-bin/.test(m.stdout) && /to-dream/.test(m.stdout);
        });
        assert.ok(listed, (await host.exec("printf 'x\\n' | mailx -f /var/mail/root; tail -20 /var/log/mail.log 2>/dev/null || journalctl -u postfix -n 20")).stdout);
    });

    test("an unknown recipient is refused with 550", async () => {
        const s = await swaks(host, ["--to", `nobody-here@${DOMAIN}`, "--from", `client@${DOMAIN}`, "--helo", "client.linuxprobe.com", "--quit-after", "RCPT"]);
        assert.notEqual(s.code, 0);
        assert.match(s.stdout, /<\*\* 550/);
    });

    test("relaying to a foreign domain from an untrusted address is refused", async () => {
        const s = await swaks(host, ["--to", "someone@example.org", "--from", `client@${DOMAIN}`, "--helo", "client.example.org", "--local-interface", host.untrustedIp, "--quit-after", "RCPT"]);
        assert.notEqual(s.code, 0);
        assert.match(s.stdout, /<\*\* 554.*Relay access denied/);
        // ...while the trusted address may relay (mail then waits in the queue: no network).
        const t = await swaks(host, ["--to", "someone@example.org", "--from", `client@${DOMAIN}`, "--helo", "client.linuxprobe.com", "--quit-after", "RCPT"]);
        assert.equal(t.code, 0, t.stdout);
    });

    test("a wrong password is refused", async () => {
        for (const mode of ["imaps", "pop3s"]) {
            const r = await mailbox(host, mode, "liuchuan", "not-the-password");
            assert.equal(r.ok, false, mode);
            assert.match(r.error ?? "", /auth|fail|denied|-ERR/i);
        }
    });

    test("a password with quotes, $(), backticks, spaces and non-ASCII logs in over IMAP", async () => {
        const r = await mailbox(host, "imaps", NASTY_USER, NASTY_PASSWORD);
        assert.equal(r.ok, true, r.error);
    });

    test("firewalld keeps closed what the program did not open", async () => {
        // Something listens on 4190 inside the host, but the firewall must drop it.
        await host.exec("systemd-run --unit=mh-probe --collect python3 -m http.server 4190 >/dev/null");
        const inside = await host.exec("for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/4190) 2>/dev/null && exit 0; sleep 0.1; done; exit 1");
        assert.equal(inside.code, 0, "probe server did not start");
        const outside = await run("bash", ["-c", `timeout 3 python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2, (sys.argv[3], 0))' ${host.ip} 4190 ${host.clientIp}`]);
        assert.notEqual(outside.code, 0, "port 4190 is reachable from outside");
        const smtp = await run("bash", ["-c", `timeout 3 python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2, (sys.argv[3], 0))' ${host.ip} 25 ${host.clientIp}`]);
        assert.equal(smtp.code, 0, "port 25 is not reachable");
        await host.exec("systemctl stop mh-probe");
    });

    test("a second apply with the same config runs no command", async () => {
        const r = assertApplied(await timed("second apply (same config)", () => stack.up(config)));
        assert.deepEqual(r.executed.map((c) => c.resource), []);
    });

    test("running every create script again changes no file and restarts no daemon", async () => {
        const snapshot = async () => {
            // managed-keys.bind is named's own RFC 5011 trust-anchor state: named rewrites it
            // on its own schedule (retrying the root keys, unreachable here), not ours.
            const files = await host.exec(
                "find /etc /var/lib/bind /var/lib/mailhost /home -xdev -type f ! -path '/var/lib/mailhost/lock' ! -name '*.pid' ! -name 'managed-keys.bind*' -print0 | sort -z | xargs -0 sha256sum",
            );
            const pids = await host.exec("for u in dovecot named firewalld; do systemctl show -p MainPID --value $u; done; cat /var/spool/postfix/pid/master.pid");
            return { files: files.stdout, pids: pids.stdout };
        };
        const before = await snapshot();
        for (const [name, inputs] of Object.entries(stack.state)) {
            const c = inputs.connection as { host: string; port: number; user: string; privateKey: string };
            const r = await runRemote(c, inputs.create as string, inputs.stdin as string);
            assert.equal(r.code, 0, `${name}: ${r.stderr}`);
            assert.doesNotMatch(r.stderr, /mailhost: (wrote|started|reload|restart|created|password|installed|opened|closed)/, `${name} changed something:\n${r.stderr}`);
        }
        const after = await snapshot();
        assert.equal(after.pids, before.pids, "a daemon was restarted");
        // Only the lines that differ, so a failure names the files.
        const diff = (a: string, b: string) => a.split("\n").filter((l) => !new Set(b.split("\n")).has(l));
        assert.deepEqual({ new: diff(after.files, before.files), gone: diff(before.files, after.files) }, { new: [], gone: [] }, "a file changed");
    });

    test("mail flows after every daemon restarts", async () => {
        await host.exec("systemctl restart postfix dovecot named firewalld");
        await eventually(async () => (await host.exec("systemctl is-active postfix dovecot named firewalld")).code === 0);
        const s = await swaks(host, ["--to", `liuchuan@${DOMAIN}`, "--from", `client@${DOMAIN}`, "--header", "Subject: after-restart", "--helo", "client.linuxprobe.com"]);
        assert.equal(s.code, 0, s.stdout);
        assert.ok(await eventually(async () => ((await mailbox(host, "imaps", "liuchuan", PASSWORD)).subjects ?? []).includes("after-restart")));
        assert.deepEqual(await dig(host, DOMAIN, "MX"), [`10 ${HOSTNAME}.`]);
    });

    test("mail survives a full stop and start of the host; services come back enabled", async () => {
        await timed("host reboot", () => host.reboot());
        for (const unit of ["postfix", "dovecot", "named", "firewalld"]) {
            const ok = await eventually(async () => (await host.exec(`systemctl is-active ${unit}`)).code === 0, 60);
            assert.ok(ok, `${unit} is not active after the reboot`);
        }
        const imap = await mailbox(host, "imaps", "liuchuan", PASSWORD);
        assert.ok(imap.subjects?.includes("chapter-pop-imap") && imap.subjects.includes("after-restart"), JSON.stringify(imap));
        const s = await swaks(host, ["--to", `liuchuan@${DOMAIN}`, "--from", `client@${DOMAIN}`, "--header", "Subject: after-reboot", "--helo", "client.linuxprobe.com"]);
        assert.equal(s.code, 0, s.stdout);
        assert.ok(await eventually(async () => ((await mailbox(host, "imaps", "liuchuan", PASSWORD)).subjects ?? []).includes("after-reboot")));
        const closed = await run("bash", ["-c", `timeout 3 python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2, (sys.argv[3], 0))' ${host.ip} 4190 ${host.clientIp}`]);
        assert.notEqual(closed.code, 0);
    });
});
