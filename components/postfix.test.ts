import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { postfixList, settingsMap, settingsOf } from "../test/unit/conf";
import { assertExpected, renderChapterFiles } from "../test/unit/expected";
import { OS_NAMES, PLATFORMS } from "./platform";
import { DOVECOT_SOCKETS, mynetworks, POSTFIX_MAPS, renderMainCf, renderMasterCf, renderPostfixScript, TLS_PROTOCOLS } from "./postfix";

const rhel8 = PLATFORMS.rhel8;
const args = {
    domain: "linuxprobe.com",
    hostname: "mail.linuxprobe.com",
    trustedNetworks: ["192.168.10.0/24"],
    certFile: rhel8.tls.certFile,
    keyFile: rhel8.tls.keyFile,
    extraSettings: [] as [string, string][],
};

describe("main.cf", () => {
    for (const os of OS_NAMES) {
        test(`${os}: the chapter's settings (table 15-1)`, () => {
            const main = settingsMap(renderChapterFiles(os)["main.cf"]);
            assert.equal(main.get("myhostname"), "mail.linuxprobe.com");
            assert.equal(main.get("mydomain"), "linuxprobe.com");
            assert.equal(main.get("myorigin"), "$mydomain");
            assert.equal(main.get("inet_interfaces"), "all");
            const dest = postfixList(main.get("mydestination"));
            assert.ok(dest.includes("$mydomain"), `mydestination = ${main.get("mydestination")}`);
            assert.ok(dest.includes("$myhostname"));
            const nets = postfixList(main.get("mynetworks"));
            assert.ok(nets.includes("192.168.10.0/24"), `mynetworks = ${main.get("mynetworks")}`);
            assert.ok(nets.includes("127.0.0.0/8"));
        });

        test(`${os}: each parameter is set once`, () => {
            assert.doesNotThrow(() => settingsMap(renderChapterFiles(os)["main.cf"]));
        });

        test(`${os}: rendered from the chapter's config, equal to test/expected/${os}/main.cf`, () => {
            assertExpected(os, "main.cf", renderChapterFiles(os)["main.cf"]);
        });
    }

    test("TLS 1.2 minimum, in the syntax RHEL 8's Postfix 3.5 accepts", () => {
        assert.equal(TLS_PROTOCOLS, "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1");
        for (const os of OS_NAMES) {
            const text = renderChapterFiles(os)["main.cf"];
            const main = settingsMap(text);
            assert.equal(main.get("smtpd_tls_protocols"), TLS_PROTOCOLS);
            assert.equal(main.get("smtpd_tls_mandatory_protocols"), TLS_PROTOCOLS);
            assert.ok(!text.includes(">="), "Postfix 3.5 does not know the '>=TLSv1.2' syntax");
        }
    });

    test("the distribution's paths and compatibility level", () => {
        const rh = settingsMap(renderChapterFiles("rhel8")["main.cf"]);
        assert.equal(rh.get("compatibility_level"), "2");
        assert.equal(rh.get("daemon_directory"), "/usr/libexec/postfix");
        assert.equal(rh.get("sendmail_path"), "/usr/sbin/sendmail.postfix");
        assert.equal(rh.get("smtpd_tls_cert_file"), "/etc/pki/tls/certs/mailhost.pem");
        assert.equal(rh.get("smtpd_tls_key_file"), "/etc/pki/tls/private/mailhost.key");
        const deb = settingsMap(renderChapterFiles("debian12")["main.cf"]);
        assert.equal(deb.get("compatibility_level"), "3.6");
        assert.equal(deb.get("daemon_directory"), undefined, "Debian's Postfix knows its own paths");
        assert.equal(deb.get("smtpd_tls_cert_file"), "/etc/ssl/certs/mailhost.pem");
        assert.equal(deb.get("smtpd_tls_key_file"), "/etc/ssl/private/mailhost.key");
    });

    test("no open relay: only trusted networks and authenticated users relay", () => {
        const main = settingsMap(renderMainCf(rhel8, args));
        for (const key of ["smtpd_relay_restrictions", "smtpd_recipient_restrictions"]) {
            const r = postfixList(main.get(key));
            assert.equal(r[r.length - 1], "reject_unauth_destination", `${key} = ${main.get(key)}`);
            assert.ok(!r.includes("permit"), `${key} must not permit everyone`);
        }
        assert.equal(main.get("relay_domains"), "");
        assert.ok(!postfixList(main.get("mynetworks")).includes("0.0.0.0/0"));
    });

    test("no AUTH on port 25, AUTH only after TLS; Dovecot authenticates", () => {
        const main = settingsMap(renderMainCf(rhel8, args));
        assert.equal(main.get("smtpd_sasl_auth_enable"), "no");
        assert.equal(main.get("smtpd_tls_auth_only"), "yes");
        assert.equal(main.get("smtpd_tls_security_level"), "may");
        assert.equal(main.get("smtpd_sasl_type"), "dovecot");
        assert.equal(main.get("smtpd_sasl_path"), DOVECOT_SOCKETS.auth);
        assert.equal(main.get("smtpd_sender_login_maps"), `hash:${POSTFIX_MAPS.senders}, hash:${POSTFIX_MAPS.aliasSenders}`);
        assert.equal(main.get("mailbox_transport_maps"), `hash:${POSTFIX_MAPS.mailboxes}`);
    });

    test("trusted IPv6 networks are written in brackets", () => {
        assert.equal(mynetworks([]), "127.0.0.0/8 [::1]/128");
        assert.equal(mynetworks(["192.168.10.0/24", "2001:db8::/32"]), "127.0.0.0/8 [::1]/128 192.168.10.0/24 [2001:db8::]/32");
    });

    test("postfixSettings are applied last: an overridden key keeps its place, a new one is appended", () => {
        const base = settingsOf(renderMainCf(rhel8, args)).map(([k]) => k);
        const text = renderMainCf(rhel8, { ...args, extraSettings: [["message_size_limit", "1000"], ["relayhost", "[smtp.example.org]:587"]] });
        const settings = settingsOf(text);
        assert.deepEqual(settings.map(([k]) => k), [...base, "relayhost"]);
        const main = settingsMap(text);
        assert.equal(main.get("message_size_limit"), "1000");
        assert.equal(main.get("relayhost"), "[smtp.example.org]:587");
    });

    test("DKIM milters are set only when given", () => {
        assert.equal(settingsMap(renderMainCf(rhel8, args)).get("smtpd_milters"), undefined);
        const main = settingsMap(renderMainCf(rhel8, { ...args, milters: rhel8.dkimSocket.postfix }));
        assert.equal(main.get("smtpd_milters"), "unix:/run/opendkim/opendkim.sock");
        assert.equal(main.get("non_smtpd_milters"), "$smtpd_milters");
    });
});

describe("master.cf", () => {
    const master = renderMasterCf();
    const rows = master.split("\n").filter((l) => l && !l.startsWith("#") && !/^\s/.test(l)).map((l) => l.split(/\s+/));

    test("every service line has the 8 columns, without chroot", () => {
        for (const r of rows) {
            assert.ok(r.length >= 8, `too few columns: ${r.join(" ")}`);
            assert.equal(r[4], "n", `${r[0]} is chrooted`);
        }
    });

    test("services are unique and include smtp, submission (587) and smtps (465)", () => {
        const names = rows.map((r) => `${r[0]}/${r[1]}`);
        assert.equal(new Set(names).size, names.length);
        for (const s of ["smtp/inet", "submission/inet", "smtps/inet", "lmtp/unix", "local/unix", "smtp/unix"]) assert.ok(names.includes(s), s);
    });

    test("submission requires TLS and authentication and forbids sender forging; smtps is implicit TLS", () => {
        const options = (svc: string) => {
            const lines = master.split("\n");
            const at = lines.findIndex((l) => l.startsWith(`${svc} `) && l.includes(" inet "));
            const out: string[] = [];
            for (let i = at + 1; i < lines.length && /^\s+-o /.test(lines[i]); i++) out.push(lines[i].trim().slice(3));
            return out;
        };
        for (const svc of ["submission", "smtps"]) {
            const o = options(svc);
            assert.ok(o.includes("smtpd_tls_security_level=encrypt"), `${svc}: ${o.join(" ")}`);
            assert.ok(o.includes("smtpd_sasl_auth_enable=yes"));
            assert.ok(o.includes("smtpd_sender_restrictions=reject_sender_login_mismatch"));
            assert.ok(o.includes("smtpd_relay_restrictions=permit_sasl_authenticated,reject"));
        }
        assert.ok(options("smtps").includes("smtpd_tls_wrappermode=yes"));
        assert.ok(!options("submission").includes("smtpd_tls_wrappermode=yes"));
    });

    for (const os of OS_NAMES) {
        test(`${os}: equal to test/expected/${os}/master.cf`, () => {
            assertExpected(os, "master.cf", renderChapterFiles(os)["master.cf"]);
        });
    }
});

describe("the Postfix step script", () => {
    const script = renderPostfixScript(rhel8, args);

    test("validates the staged files before they replace the live ones", () => {
        const validate = script.indexOf(`mh_validate "Postfix" postfix -c "$mh_stage" check`);
        const put = script.indexOf("mh_put /etc/postfix/main.cf");
        assert.ok(validate > 0 && put > 0 && validate < put);
        assert.ok(script.indexOf(`mh_validate "Postfix" postconf -c "$mh_stage" -n`) < put);
        assert.ok(script.indexOf("mh_put /etc/postfix/master.cf") > validate);
    });

    test("creates the lookup tables users and aliases fill in", () => {
        for (const map of Object.values(POSTFIX_MAPS)) assert.ok(script.includes(map), map);
    });

    test("passes bash -n", () => {
        const r = bashSyntax(script);
        assert.equal(r.status, 0);
        assert.equal(r.stderr, "");
    });
});
