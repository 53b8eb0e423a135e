/**
 * The secure defaults of issue 4, each proved with a real client against a real
 * Debian 12 host: TLS on every port with the deployed certificate (TLS < 1.2 refused),
 * AUTH only inside TLS and only on the submission ports, no plaintext logins, no open
 * relay, no sender forging, DKIM signatures that verify against our zone, SPF / DMARC /
 * DKIM records, a certificate kept across re-applies, and the two opt-ins
 * (allowPlaintextAuth, clientCidrs) applied on top and reverted.
 *
 * Every client binds to this machine's address on the host link (host.clientIp, or
 * host.untrustedIp for the untrusted client): no traffic goes anywhere else.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { dkimVerify } from "mailauth";
import { bootHost, TestHost } from "../testhost/testhost";
import { dkimKeyPaths } from "../../components/dkim";
import { platformFor } from "../../components/platform";
import { FINGERPRINT_PREFIX } from "../../components/tls";
import {
    assertApplied,
    canConnect,
    chapterConfig,
    dig,
    DOMAIN,
    envelope,
    ensureTestImage,
    eventually,
    HOSTNAME,
    mailbox,
    printTimings,
    probe,
    ProbeResult,
    queueEmpty,
    submit,
    swaks,
    TestStack,
    timed,
} from "./lib";
import { runRemote } from "./replay";

const PLATFORM = platformFor("debian12");
const USERS = { liuchuan: "liuchuan-e2e-pw", zhangsan: "zhangsan-e2e-pw" };
const addr = (local: string) => `${local}@${DOMAIN}`;

/** Every port that speaks TLS: how, and in which protocol. */
const TLS_PORTS: { port: number; proto: "smtp" | "imap" | "pop3"; implicit: boolean }[] = [
    { port: 25, proto: "smtp", implicit: false },
    { port: 587, proto: "smtp", implicit: false },
    { port: 110, proto: "pop3", implicit: false },
    { port: 143, proto: "imap", implicit: false },
    { port: 465, proto: "smtp", implicit: true },
    { port: 993, proto: "imap", implicit: true },
    { port: 995, proto: "pop3", implicit: true },
];

let host: TestHost;
let stack: TestStack;
let base: Record<string, unknown>;
/** The fingerprint the first deploy printed (the TLS step's stdout). */
let deployedFingerprint: string;

/** The SHA-256 fingerprint printed by a TLS step run (`tls-fingerprint-sha256=AB:CD:...`). */
function fingerprintIn(stdout: string): string | undefined {
    return stdout
        .split("\n")
        .find((l) => l.startsWith(FINGERPRINT_PREFIX))
        ?.slice(FINGERPRINT_PREFIX.length)
        .trim()
        .toUpperCase();
}

/** The TXT character-strings of one `dig +short` line or zone-file record: `"a" "b"` -> ["a", "b"]. */
function txtStrings(text: string): string[] {
    return [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, "$1"));
}

/** mailauth's resolver, answered by the host's BIND through dig bound to the test link. */
async function hostResolver(name: string, type: string): Promise<string[][]> {
    const nxdomain = () => Object.assign(new Error(`${name} ${type}: no answer from the host's BIND`), { code: "ENOTFOUND" });
    if (type !== "TXT") throw nxdomain();
    const lines = await dig(host, name, "TXT");
    if (lines.length === 0) throw nxdomain();
    return lines.map(txtStrings);
}

/** A message's raw form as stored in `user`'s INBOX, found by subject (waits for delivery). */
async function storedMessage(user: keyof typeof USERS, subject: string): Promise<string> {
    let raw: string | null | undefined;
    const ok = await eventually(async () => {
        raw = (await mailbox(host, "imaps", user, USERS[user], ["--fetch", subject])).raw;
        return Boolean(raw);
    });
    assert.ok(ok && raw, `"${subject}" did not arrive in ${user}'s INBOX`);
    return Buffer.from(raw, "base64").toString("utf8");
}

/** The DKIM results of `raw` by mailauth, resolving keys at the host's BIND. */
async function dkimResults(raw: string): Promise<{ domain: string; selector?: string; result: string; comment?: string }[]> {
    const r = await dkimVerify(Buffer.from(raw), { resolver: hostResolver });
    return r.results.map((x) => ({ domain: x.signingDomain, selector: x.selector, result: x.status.result, comment: x.status.comment }));
}

const certOf = (p: ProbeResult) => new X509Certificate(Buffer.from(p.tls!.der, "base64"));
const show = (x: unknown) => JSON.stringify(x, (k, v) => (k === "der" ? "(DER)" : v));

/** Plaintext logins over 143 (LOGIN) and 110 (USER/PASS) without TLS, with the right password. */
async function plaintextLogins(): Promise<{ imap: { ok: boolean; error?: string }; pop3: { ok: boolean; error?: string } }> {
    const imap = await mailbox(host, "imap", "liuchuan", USERS.liuchuan, ["--plain", "--login"]);
    const pop3 = await mailbox(host, "pop3", "liuchuan", USERS.liuchuan, ["--plain"]);
    return { imap, pop3 };
}

describe("secure by default on a Debian 12 host (issue 4)", () => {
    before(async () => {
        await timed("image (cached after the first build)", () => ensureTestImage());
        host = await timed("host boot", () => bootHost(14, { replace: true }));
        stack = new TestStack(host);
        base = chapterConfig(host, {
            users: Object.entries(USERS).map(([name, password]) => ({ name, password })),
            aliases: { dream: "root", info: ["liuchuan"] },
        });
        const r = assertApplied(await timed("first apply", () => stack.up(base)));
        const fp = r.executed.map((c) => fingerprintIn(c.stdout)).find((f) => f);
        assert.ok(fp, "the deploy printed no TLS fingerprint");
        deployedFingerprint = fp;
    });
    after(async () => {
        await host?.down();
        printTimings("security.e2e");
    });

    test("STARTTLS on 25, 587, 110, 143 and TLS on 465, 993, 995 present the deployed certificate for the hostname", async () => {
        const onHost = await host.exec(`openssl x509 -in ${PLATFORM.tls.certFile} -noout -fingerprint -sha256`);
        assert.equal(onHost.stdout.trim().split("=")[1]?.toUpperCase(), deployedFingerprint, "the printed fingerprint is not the certificate's on the host");
        await timed("TLS probes (7 ports)", async () => {
            for (const p of TLS_PORTS) {
                const r = await probe(host, p.port, p.proto, { implicit: p.implicit });
                assert.equal(r.ok, true, `port ${p.port}: ${show(r)}`);
                if (!p.implicit) assert.equal(r.offered, true, `port ${p.port} does not offer STARTTLS: ${show(r)}`);
                assert.match(r.tls!.version, /^TLSv1\.[23]$/, `port ${p.port}`);
                const cert = certOf(r);
                assert.equal(cert.fingerprint256.toUpperCase(), deployedFingerprint, `port ${p.port} presents another certificate`);
                assert.equal(cert.checkHost(HOSTNAME), HOSTNAME, `port ${p.port}: the certificate is not for ${HOSTNAME}`);
                assert.match(cert.subjectAltName ?? "", new RegExp(`DNS:${HOSTNAME.replace(/\./g, "\\.")}\\b`), `port ${p.port}: no SAN for ${HOSTNAME}`);
            }
        });
    });

    test("TLS 1.0 and 1.1 are refused by the server on every TLS port; TLS 1.2 is accepted", async () => {
        await timed("TLS version probes (7 ports x 3)", async () => {
            for (const p of TLS_PORTS) {
                for (const v of ["1.0", "1.1"] as const) {
                    const r = await probe(host, p.port, p.proto, { implicit: p.implicit, tlsVersion: v });
                    assert.equal(r.ok, false, `port ${p.port} accepted TLS ${v}: ${show(r)}`);
                    // Refused by the server after reading our ClientHello, not by a client that
                    // could not offer the version: Postfix answers with a protocol_version
                    // alert; Dovecot 2.3 closes the connection without flushing its alert (it
                    // logs "SSL_accept() failed: ... unsupported protocol").
                    const refusal = p.proto === "smtp" ? /TLSV1_ALERT_PROTOCOL_VERSION/ : /TLSV1_ALERT_PROTOCOL_VERSION|UNEXPECTED_EOF_WHILE_READING/;
                    assert.match(r.error ?? "", refusal, `port ${p.port}, TLS ${v}: ${show(r)}`);
                }
                const ok = await probe(host, p.port, p.proto, { implicit: p.implicit, tlsVersion: "1.2" });
                assert.equal(ok.ok, true, `port ${p.port} refused TLS 1.2: ${show(ok)}`);
                assert.equal(ok.tls?.version, "TLSv1.2");
            }
        });
    });

    test("587 offers AUTH only after STARTTLS, 465 offers it inside TLS, 25 never offers AUTH", async () => {
        const hasAuth = (caps?: string[]) => (caps ?? []).some((c) => /^AUTH\b/i.test(c));
        const sub = await probe(host, 587, "smtp");
        assert.equal(sub.ok, true, show(sub));
        assert.equal(hasAuth(sub.before), false, `587 offers AUTH before STARTTLS: ${show(sub.before)}`);
        assert.equal(hasAuth(sub.after), true, `587 does not offer AUTH after STARTTLS: ${show(sub.after)}`);
        const smtps = await probe(host, 465, "smtp", { implicit: true });
        assert.equal(hasAuth(smtps.after), true, `465 does not offer AUTH: ${show(smtps)}`);
        const mx = await probe(host, 25, "smtp");
        assert.equal(mx.ok, true, show(mx));
        assert.equal(hasAuth(mx.before), false, `25 offers AUTH before STARTTLS: ${show(mx.before)}`);
        assert.equal(hasAuth(mx.after), false, `25 offers AUTH after STARTTLS: ${show(mx.after)}`);
    });

    test("plaintext logins without TLS are refused on 143 and 110 (and work inside TLS)", async () => {
        const imapCaps = await probe(host, 143, "imap", { noTls: true });
        assert.ok(imapCaps.before?.includes("LOGINDISABLED"), `143 does not announce LOGINDISABLED: ${show(imapCaps)}`);
        assert.ok(!imapCaps.before?.some((c) => c.startsWith("AUTH=")), `143 offers AUTH= mechanisms without TLS: ${show(imapCaps)}`);
        const popCaps = await probe(host, 110, "pop3", { noTls: true });
        assert.ok(!popCaps.before?.includes("USER") && popCaps.before?.includes("SASL"), `110 offers USER or SASL mechanisms without TLS: ${show(popCaps)}`);
        const { imap, pop3 } = await plaintextLogins();
        assert.equal(imap.ok, false, "IMAP LOGIN without TLS was accepted");
        assert.match(imap.error ?? "", /PRIVACYREQUIRED/, imap.error);
        const plainAuth = await mailbox(host, "imap", "liuchuan", USERS.liuchuan, ["--plain"]);
        assert.equal(plainAuth.ok, false, "IMAP AUTHENTICATE PLAIN without TLS was accepted");
        assert.match(plainAuth.error ?? "", /PRIVACYREQUIRED/, plainAuth.error);
        assert.equal(pop3.ok, false, "POP3 USER/PASS without TLS was accepted");
        assert.match(pop3.error ?? "", /-ERR .*Plaintext authentication disallowed/, pop3.error);
        // The same credentials work once TLS is up: the refusal is about plaintext.
        for (const mode of ["imap", "pop3"]) {
            const r = await mailbox(host, mode, "liuchuan", USERS.liuchuan);
            assert.equal(r.ok, true, `${mode} with STARTTLS: ${r.error}`);
        }
    });

    test("authenticated submission on 587 (STARTTLS) and 465 (TLS) delivers to a local user", async () => {
        await timed("submission 587 + 465, read back over IMAP", async () => {
            for (const mode of ["submission", "smtps"] as const) {
                const subject = `via-${mode}`;
                const s = await submit(host, mode, "liuchuan", USERS.liuchuan, addr("liuchuan"), addr("zhangsan"), subject);
                assert.equal(s.ok, true, `${mode}: ${s.error}`);
                assert.deepEqual(s.refused, [], mode);
                const got = await eventually(async () => ((await mailbox(host, "imaps", "zhangsan", USERS.zhangsan)).subjects ?? []).includes(subject));
                assert.ok(got, `the message sent on ${mode} did not reach zhangsan`);
            }
        });
    });

    test("no open relay: an untrusted client cannot relay on 25, nor send on 587 without AUTH", async () => {
        const mx = await swaks(host, ["--to", "someone@example.org", "--from", addr("liuchuan"), "--helo", "client.example.org", "--local-interface", host.untrustedIp, "--quit-after", "RCPT"]);
        assert.notEqual(mx.code, 0);
        assert.match(mx.stdout, /<\*\* 554.*Relay access denied/, mx.stdout);
        for (const source of [host.untrustedIp, host.clientIp]) {
            for (const to of ["someone@example.org", addr("zhangsan")]) {
                const r = await envelope(host, 587, addr("liuchuan"), to, { source });
                assert.equal(r.ok, false, `587 without AUTH from ${source} to ${to}: ${show(r)}`);
                assert.match(String(r.refused?.code ?? ""), /^5\d\d$/, `from ${source} to ${to}: ${show(r)}`);
            }
        }
        const noTls = await envelope(host, 587, addr("liuchuan"), "someone@example.org", { source: host.untrustedIp, noTls: true });
        assert.equal(noTls.refused?.code, 530, `587 without STARTTLS: ${show(noTls)}`);
    });

    test("an authenticated user may send as their own address and their alias, not as anyone else", async () => {
        const as = (user: keyof typeof USERS, from: string, port = 587) =>
            envelope(host, port, from, addr(user === "liuchuan" ? "zhangsan" : "liuchuan"), { user, password: USERS[user], implicit: port === 465 });
        for (const port of [587, 465]) {
            for (const from of [addr("liuchuan"), addr("info")]) {
                const r = await as("liuchuan", from, port);
                assert.equal(r.ok, true, `liuchuan as ${from} on ${port}: ${show(r)}`);
            }
            for (const from of [addr("zhangsan"), addr("postmaster"), "ceo@example.org"]) {
                const r = await as("liuchuan", from, port);
                assert.equal(r.ok, false, `liuchuan could send as ${from} on ${port}`);
                assert.equal(r.steps.find((s) => s.step === "AUTH")?.code, 235, show(r));
                assert.match(String(r.refused?.code), /^5\d\d$/, show(r));
                assert.match(r.refused?.reply ?? "", /not owned by user liuchuan/, show(r));
            }
        }
        // The alias belongs to the users it delivers to: zhangsan may not use info@.
        const other = await as("zhangsan", addr("info"));
        assert.equal(other.ok, false, `zhangsan could send as info@: ${show(other)}`);
        assert.match(other.refused?.reply ?? "", /not owned by user zhangsan/, show(other));
        const own = await as("zhangsan", addr("zhangsan"));
        assert.equal(own.ok, true, show(own));
    });

    test("mail submitted by a user carries a DKIM signature (d=linuxprobe.com, s=mail) that verifies against the zone", async () => {
        const s = await submit(host, "submission", "liuchuan", USERS.liuchuan, addr("liuchuan"), addr("zhangsan"), "dkim-signed");
        assert.equal(s.ok, true, s.error);
        const raw = await storedMessage("zhangsan", "dkim-signed");
        const header = /^DKIM-Signature:[^\n]*(?:\n[ \t][^\n]*)*/im.exec(raw)?.[0] ?? "";
        assert.match(header, /\bd=linuxprobe\.com;/, `no DKIM-Signature of ${DOMAIN}:\n${raw.slice(0, 2000)}`);
        assert.match(header, /\bs=mail;/, header);
        const good = await dkimResults(raw);
        assert.deepEqual(
            good.map((r) => [r.domain, r.selector, r.result]),
            [[DOMAIN, "mail", "pass"]],
            show(good),
        );
        // A changed body or a changed signed header must fail: the verifier really checks.
        const [head, ...bodyParts] = raw.split(/\r?\n\r?\n/);
        const body = bodyParts.join("\r\n\r\n");
        assert.match(body, /sent by mailhost's e2e test/, "unexpected body");
        const tamperedBody = `${head}\r\n\r\n${body.replace("sent by mailhost's e2e test", "sent by mallory's e2e test")}`;
        const badBody = await dkimResults(tamperedBody);
        assert.ok(badBody.length === 1 && badBody[0].result !== "pass", `a tampered body still verifies: ${show(badBody)}`);
        const tamperedSubject = raw.replace(/^Subject: dkim-signed(?=\r?$)/m, "Subject: dkim-forged");
        assert.notEqual(tamperedSubject, raw);
        const badSubject = await dkimResults(tamperedSubject);
        assert.ok(badSubject.length === 1 && badSubject[0].result !== "pass", `a tampered Subject still verifies: ${show(badSubject)}`);
    });

    test("mail from an untrusted client on 25 is not DKIM-signed with our key, even with our From", async () => {
        const s = await swaks(host, [
            "--to", addr("zhangsan"), "--from", addr("liuchuan"), "--header", "Subject: unsigned-from-outside",
            "--helo", "client.example.org", "--local-interface", host.untrustedIp,
        ]);
        assert.equal(s.code, 0, s.stdout + s.stderr);
        assert.ok(await queueEmpty(host));
        const raw = await storedMessage("zhangsan", "unsigned-from-outside");
        assert.doesNotMatch(raw, /^DKIM-Signature:/im, `mail from outside was signed:\n${raw.slice(0, 2000)}`);
    });

    test("BIND serves SPF, DMARC and the DKIM key of the host", async () => {
        const spf = (await dig(host, DOMAIN, "TXT")).map((l) => txtStrings(l).join(""));
        assert.ok(spf.includes("v=spf1 mx -all"), `SPF: ${show(spf)}`);
        assert.equal(spf.filter((t) => t.startsWith("v=spf1")).length, 1, "more than one SPF record");
        const dmarc = (await dig(host, `_dmarc.${DOMAIN}`, "TXT")).map((l) => txtStrings(l).join(""));
        assert.equal(dmarc.length, 1, show(dmarc));
        assert.match(dmarc[0], /^v=DMARC1;/);
        assert.match(dmarc[0], /(^|;)\s*p=quarantine\s*(;|$)/, dmarc[0]);
        const dkim = (await dig(host, `mail._domainkey.${DOMAIN}`, "TXT")).map((l) => txtStrings(l).join(""));
        assert.equal(dkim.length, 1, show(dkim));
        assert.match(dkim[0], /^v=DKIM1;/);
        const key = (t: string) => /(?:^|;)\s*p=([A-Za-z0-9+/=]+)/.exec(t)?.[1];
        const file = await host.exec(`cat ${dkimKeyPaths(DOMAIN).record}`);
        assert.equal(file.code, 0, file.stderr);
        const onHost = key(txtStrings(file.stdout).join(""));
        assert.ok(onHost && onHost.length > 300, `no 2048-bit key in ${dkimKeyPaths(DOMAIN).record}: ${file.stdout}`);
        assert.equal(key(dkim[0]), onHost, "the key in the zone is not the host's DKIM key");
    });

    test("the certificate survives a re-apply with a changed config and a re-run of the TLS step", async () => {
        const changed = { ...base, aliases: { ...(base.aliases as Record<string, unknown>), sales: ["zhangsan"] } };
        assertApplied(await timed("apply: alias added", () => stack.up(changed)));
        const [name, inputs] = Object.entries(stack.state).find(([n]) => /-tls-certificate$/.test(n)) ?? [];
        assert.ok(name && inputs, `no TLS step in the state: ${Object.keys(stack.state).join(", ")}`);
        const again = await timed("TLS step run again by hand", () =>
            runRemote(inputs.connection as { host: string; port: number; user: string; privateKey: string }, inputs.create as string, inputs.stdin as string),
        );
        assert.equal(again.code, 0, again.stderr);
        assert.equal(fingerprintIn(again.stdout), deployedFingerprint, "the TLS step made a new certificate");
        assert.doesNotMatch(again.stderr, /mailhost: wrote/, again.stderr);
        for (const p of [TLS_PORTS[0], TLS_PORTS[5]]) {
            const r = await probe(host, p.port, p.proto, { implicit: p.implicit });
            assert.equal(certOf(r).fingerprint256.toUpperCase(), deployedFingerprint, `port ${p.port} after the re-apply`);
        }
        base = changed;
    });

    test("allowPlaintextAuth: true lets plaintext logins through on 143 and 110; the default refuses them again", async () => {
        const r = assertApplied(await timed("apply: allowPlaintextAuth true", () => stack.up({ ...base, allowPlaintextAuth: true })));
        assert.ok(r.executed.length > 0);
        assert.match(JSON.stringify(stack.lastRun?.outputs.warnings ?? []), /allowPlaintextAuth/, "no warning for the opt-out");
        const open = await plaintextLogins();
        assert.equal(open.imap.ok, true, `IMAP LOGIN without TLS with allowPlaintextAuth: ${open.imap.error}`);
        assert.equal(open.pop3.ok, true, `POP3 USER/PASS without TLS with allowPlaintextAuth: ${open.pop3.error}`);
        assertApplied(await timed("apply: allowPlaintextAuth back to the default", () => stack.up(base)));
        const closed = await plaintextLogins();
        assert.equal(closed.imap.ok, false, "IMAP LOGIN without TLS still accepted after reverting");
        assert.equal(closed.pop3.ok, false, "POP3 USER/PASS without TLS still accepted after reverting");
        const tls = await mailbox(host, "imaps", "liuchuan", USERS.liuchuan);
        assert.equal(tls.ok, true, tls.error);
    });

    test("clientCidrs limits IMAP/POP3/submission to those networks while 25 stays open; reverting reopens them", async () => {
        assertApplied(await timed("apply: clientCidrs = untrusted/32", () => stack.up({ ...base, clientCidrs: [`${host.untrustedIp}/32`] })));
        for (const port of [993, 143, 995, 110, 587, 465]) {
            assert.equal(await canConnect(host, port, host.clientIp), false, `port ${port} is reachable from ${host.clientIp}, outside clientCidrs`);
        }
        const allowed = await probe(host, 993, "imap", { implicit: true, source: host.untrustedIp });
        assert.equal(allowed.ok, true, `993 from ${host.untrustedIp} (in clientCidrs): ${show(allowed)}`);
        assert.equal(certOf(allowed).fingerprint256.toUpperCase(), deployedFingerprint);
        assert.equal(await canConnect(host, 587, host.untrustedIp), true, "587 from the allowed network");
        assert.equal(await canConnect(host, 25, host.clientIp), true, "port 25 must stay open to everyone");
        assert.equal(await canConnect(host, 53, host.clientIp), true, "DNS (53/tcp) must stay open to everyone");
        assertApplied(await timed("apply: clientCidrs removed", () => stack.up(base)));
        const back = await probe(host, 993, "imap", { implicit: true });
        assert.equal(back.ok, true, `993 from ${host.clientIp} after clientCidrs was removed: ${show(back)}`);
    });

    test("fail2ban bans an address after 5 failed logins (SMTP AUTH: 25/465/587; IMAP/POP3: their ports), never the trusted network; false lifts the bans", async () => {
        const bad = host.untrustedIp;
        const wrongSubmission = () => submit(host, "submission", "liuchuan", "not-the-password", `liuchuan@${DOMAIN}`, `liuchuan@${DOMAIN}`, "guess", bad);
        for (let i = 0; i < 5; i++) assert.equal((await wrongSubmission()).ok, false, "a wrong password was accepted on 587");
        assert.ok(await eventually(async () => !(await canConnect(host, 587, bad))), "587 still open to an address that failed SMTP AUTH 5 times");
        assert.equal(await canConnect(host, 25, bad), false, "25 still open to it");
        assert.match((await host.exec("fail2ban-client status postfix-sasl")).stdout, new RegExp(`Banned IP list:.*\\b${bad.replace(/\./g, "\\.")}\\b`));
        // (Postfix checks passwords through Dovecot, whose PAM log line counts in the dovecot jail too.)
        await host.exec("fail2ban-client unban --all");
        assert.equal(await canConnect(host, 587, bad), true, "unban did not reopen 587");

        for (let i = 0; i < 5; i++) assert.equal((await mailbox(host, "imaps", "liuchuan", "not-the-password", ["--source", bad])).ok, false);
        assert.ok(await eventually(async () => !(await canConnect(host, 993, bad))), "993 still open to an address that failed IMAP logins 5 times");
        assert.equal(await canConnect(host, 110, bad), false, "POP3 still open to it");
        assert.equal(await canConnect(host, 25, bad), true, "IMAP failures closed SMTP 25, which is for other servers' mail");
        // The trusted network (the test machine's first address) is never banned.
        for (let i = 0; i < 6; i++) assert.equal((await mailbox(host, "imaps", "liuchuan", "not-the-password")).ok, false);
        const ok = await mailbox(host, "imaps", "liuchuan", USERS.liuchuan);
        assert.equal(ok.ok, true, `the trusted client was banned: ${ok.error}`);
        const status = await host.exec("fail2ban-client status dovecot");
        assert.ok(status.stdout.includes(bad) && !status.stdout.includes(host.clientIp), status.stdout);

        const r = assertApplied(await timed("apply: fail2ban false", () => stack.up({ ...base, fail2ban: false })));
        assert.ok(r.executed.some((c) => c.operation === "delete" && c.resource === "mailhost-fail2ban-jails"), r.executed.map((c) => c.resource).join(", "));
        assert.match(JSON.stringify(stack.lastRun?.outputs.warnings ?? []), /fail2ban/, "no warning for the opt-out");
        for (const port of [993, 110]) assert.equal(await canConnect(host, port, bad), true, `port ${port} still banned after fail2ban: false`);
        assertApplied(await timed("apply: fail2ban back to the default", () => stack.up(base)));
        // fail2ban keeps its bans in its database and restores them when it starts again.
        assert.ok(await eventually(async () => !(await canConnect(host, 993, bad))), "the ban was not restored");
        await host.exec("fail2ban-client unban --all");
    });
});
