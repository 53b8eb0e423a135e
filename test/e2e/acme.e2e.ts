/**
 * `mailhost:acme` end to end: a bare Debian 12 host gets its certificate from a real
 * ACME CA (Pebble, on the test machine) through the program's own steps: certbot
 * installed by the package step, port 80 opened by the firewall step, HTTP-01 answered
 * by certbot while Pebble resolves the name through the host's BIND. Then the renewal
 * path the timer takes (the renewal service, with its environment, and our deploy hook)
 * replaces the certificate on every TLS port without restarting a daemon.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { CERT_NAME, DEPLOY_HOOK } from "../../components/acme";
import { platformFor } from "../../components/platform";
import { FINGERPRINT_PREFIX } from "../../components/tls";
import { bootHost, TestHost } from "../testhost/testhost";
import { assertApplied, canConnect, chapterConfig, DOMAIN, ensureTestImage, eventually, HOSTNAME, mailbox, printTimings, probe, ProbeResult, TestStack, timed, trustCa } from "./lib";
import { Pebble, startPebble } from "./pebble";

const PLATFORM = platformFor("debian12");
const PORTS: { port: number; proto: "smtp" | "imap"; implicit: boolean }[] = [
    { port: 25, proto: "smtp", implicit: false },
    { port: 465, proto: "smtp", implicit: true },
    { port: 993, proto: "imap", implicit: true },
];

let host: TestHost;
let pebble: Pebble;
let stack: TestStack;
let config: Record<string, unknown>;
/** What the deploy printed as the certificate's fingerprint. */
let deployed: string;

const certOf = (p: ProbeResult) => {
    assert.ok(p.ok && p.tls, `port ${p.port}: ${p.error ?? "no TLS"}`);
    return new X509Certificate(Buffer.from(p.tls.der, "base64"));
};

/** The certificates the TLS ports present, by port. */
async function presented(): Promise<Map<number, X509Certificate>> {
    const out = new Map<number, X509Certificate>();
    for (const p of PORTS) out.set(p.port, certOf(await probe(host, p.port, p.proto, { implicit: p.implicit })));
    return out;
}

async function mainPids(): Promise<string> {
    return (await host.exec("systemctl show -p MainPID --value dovecot; cat /var/spool/postfix/pid/master.pid")).stdout;
}

describe("mailhost:acme: the certificate from an ACME CA, renewed by certbot's timer path", () => {
    before(async () => {
        await timed("image (cached after the first build)", () => ensureTestImage());
        host = await timed("host boot", () => bootHost(15, { replace: true }));
        pebble = await timed("pebble start", () => startPebble(host));
        stack = new TestStack(host);
        config = chapterConfig(host, { acme: { email: `postmaster@${DOMAIN}`, server: pebble.directory, caBundle: pebble.listenerCa } });
        const r = assertApplied(await timed("first apply (with certbot)", () => stack.up(config)));
        const line = r.executed.find((c) => c.resource.endsWith("-acme-certificate"))?.stdout.split("\n").find((l) => l.startsWith(FINGERPRINT_PREFIX));
        assert.ok(line, `the ACME step printed no fingerprint: ${r.executed.map((c) => c.resource).join(", ")}`);
        deployed = line.slice(FINGERPRINT_PREFIX.length).trim();
        const { root } = await pebble.issuer();
        trustCa(host, root);
    });
    after(async () => {
        await host?.down();
        await pebble?.stop();
        printTimings("acme.e2e");
    });

    test("every TLS port presents the CA-issued certificate for the host name, verified against the CA's root", async () => {
        const { root, intermediate } = await pebble.issuer();
        const rootCert = new X509Certificate(root);
        const inter = new X509Certificate(intermediate);
        for (const [port, cert] of await presented()) {
            assert.equal(cert.fingerprint256.toUpperCase(), deployed, `port ${port}: not the certificate the deploy reported`);
            assert.equal(cert.checkHost(HOSTNAME), HOSTNAME, `port ${port}: not for ${HOSTNAME}`);
            assert.ok(cert.checkIssued(inter) && cert.verify(inter.publicKey), `port ${port}: not issued by the ACME CA's intermediate`);
            assert.ok(inter.verify(rootCert.publicKey), "the intermediate is not the root's");
        }
        // A client that trusts only the CA's root logs in over IMAPS (clients.py verifies the chain).
        const imap = await mailbox(host, "imaps", "liuchuan", "linuxprobe-e2e");
        assert.equal(imap.ok, true, imap.error);
    });

    test("port 80 is open for HTTP-01 and nothing listens there between issuances", async () => {
        const fw = await host.exec("firewall-cmd --list-services");
        assert.match(fw.stdout, /\bhttp\b/);
        assert.equal(await canConnect(host, 80), false, "something listens on port 80 after the deploy");
    });

    test("the renewal timer is enabled and active, and renewal trusts the configured CA", async () => {
        const t = await host.exec(`systemctl is-enabled ${PLATFORM.acme.renewTimer} && systemctl is-active ${PLATFORM.acme.renewTimer}`);
        assert.equal(t.code, 0, t.stdout + t.stderr);
        const env = await host.exec(`systemctl show -p Environment --value ${PLATFORM.acme.renewService}`);
        assert.match(env.stdout, /REQUESTS_CA_BUNDLE=\/etc\/mailhost\/acme-ca\.pem/);
    });

    test("a second apply with the same config runs no command", async () => {
        const r = assertApplied(await timed("second apply (same config)", () => stack.up(config)));
        assert.deepEqual(r.executed.map((c) => c.resource), []);
    });

    test("running the ACME step again keeps the certificate and touches nothing", async () => {
        const inputs = stack.state["mailhost-acme-certificate"];
        assert.ok(inputs, `no ACME step in the state: ${Object.keys(stack.state).join(", ")}`);
        const { runRemote } = await import("./replay");
        const again = await runRemote(inputs.connection as { host: string }, inputs.create as string, inputs.stdin as string);
        assert.equal(again.code, 0, again.stderr);
        assert.doesNotMatch(again.stderr, /mailhost: (wrote|reload|restart|started)/, again.stderr);
        assert.ok(again.stdout.includes(`${FINGERPRINT_PREFIX}${deployed}`), again.stdout);
    });

    test("a renewal through the timer's service installs the new certificate on every port, reloading, not restarting", async () => {
        const pids = await mainPids();
        // Make the certificate due (as 60 days would), then run what the timer runs.
        const due = await host.exec(
            `sed -i '/^renew_before_expiry/d; 1i renew_before_expiry = 10000 days' /etc/letsencrypt/renewal/${CERT_NAME}.conf && systemctl start ${PLATFORM.acme.renewService}`,
        );
        assert.equal(due.code, 0, due.stderr + (await host.exec(`journalctl -u ${PLATFORM.acme.renewService} -o cat --no-pager | tail -30`)).stdout);
        // The unit runs `certbot -q`: hook output goes only to certbot's own log, as warnings.
        const log = (await host.exec("cat /var/log/letsencrypt/letsencrypt.log")).stdout;
        const at = log.lastIndexOf("Certificate is due for renewal");
        assert.ok(at >= 0, `certbot did not renew:\n${log.slice(-3000)}`);
        const renewal = log.slice(at);
        assert.match(renewal, /ran with error output:\n(.*\n)*?\s*mailhost: reload postfix\n/, `the deploy hook (${DEPLOY_HOOK}) did not reload Postfix:\n${renewal.slice(-3000)}`);
        assert.doesNotMatch(renewal, /reported error code/, renewal.slice(-3000));
        let now = new Map<number, X509Certificate>();
        assert.ok(
            await eventually(async () => {
                now = await presented();
                return [...now.values()].every((c) => c.fingerprint256.toUpperCase() !== deployed);
            }),
            `a port still presents the old certificate: ${[...now].map(([p, c]) => `${p} ${c.fingerprint256}`).join(", ")}`,
        );
        const fingerprints = new Set([...now.values()].map((c) => c.fingerprint256));
        assert.equal(fingerprints.size, 1, "the ports present different certificates");
        const onHost = await host.exec(`openssl x509 -in /etc/letsencrypt/live/${CERT_NAME}/cert.pem -noout -fingerprint -sha256`);
        assert.equal(onHost.stdout.trim().split("=")[1], [...fingerprints][0], "the ports do not present certbot's renewed certificate");
        assert.equal(await mainPids(), pids, "a daemon was restarted");
        const imap = await mailbox(host, "imaps", "liuchuan", "linuxprobe-e2e");
        assert.equal(imap.ok, true, imap.error);
    });
});
