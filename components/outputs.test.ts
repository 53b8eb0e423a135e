import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { renderClientSettings, renderRegistrarRecords } from "./outputs";

describe("outputs", () => {
    test("registrar records: NS delegation with glue, or the records to publish elsewhere", () => {
        const r = renderRegistrarRecords({
            domain: "linuxprobe.com",
            hostname: "mail.linuxprobe.com",
            address: "203.0.113.10",
            dmarcPolicy: "quarantine",
            extraRecords: [{ name: "www", type: "A", value: "203.0.113.20" }],
        });
        assert.deepEqual(r.delegation, [{ name: "linuxprobe.com.", type: "NS", value: "ns.linuxprobe.com." }]);
        assert.deepEqual(r.glue, [{ name: "ns.linuxprobe.com.", type: "A", value: "203.0.113.10" }]);
        assert.deepEqual(r.records, [
            { name: "linuxprobe.com.", type: "MX", value: "10 mail.linuxprobe.com." },
            { name: "linuxprobe.com.", type: "TXT", value: "v=spf1 mx -all" },
            { name: "_dmarc.linuxprobe.com.", type: "TXT", value: "v=DMARC1; p=quarantine; rua=mailto:postmaster@linuxprobe.com" },
            { name: "mail.linuxprobe.com.", type: "A", value: "203.0.113.10" },
            { name: "www.linuxprobe.com.", type: "A", value: "203.0.113.20" },
        ]);
    });

    test("client settings: TLS ports for IMAP, POP3 and submission", () => {
        const c = renderClientSettings("mail.linuxprobe.com", false);
        assert.deepEqual(c.incoming.map((s) => `${s.protocol} ${s.port} ${s.security}`), ["IMAP 993 SSL/TLS", "IMAP 143 STARTTLS", "POP3 995 SSL/TLS", "POP3 110 STARTTLS"]);
        assert.deepEqual(c.outgoing.map((s) => `${s.protocol} ${s.port} ${s.security}`), ["SMTP 587 STARTTLS", "SMTP 465 SSL/TLS"]);
        assert.ok([...c.incoming, ...c.outgoing].every((s) => s.server === "mail.linuxprobe.com"));
        assert.match(c.authentication, /TLS only/);
        assert.match(renderClientSettings("mail.linuxprobe.com", true).authentication, /without TLS/);
    });
});
