import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { settingsMap } from "../test/unit/conf";
import { assertExpected, renderChapterFiles } from "../test/unit/expected";
import { renderDovecotConf, renderDovecotScript } from "./dovecot";
import { OS_NAMES, PLATFORMS } from "./platform";
import { DOVECOT_SOCKETS } from "./postfix";

const args = {
    domain: "linuxprobe.com",
    certFile: "/etc/pki/tls/certs/mailhost.pem",
    keyFile: "/etc/pki/tls/private/mailhost.key",
    allowPlaintextAuth: false,
    firstValidUid: 1000,
    extraSettings: [] as [string, string][],
};

describe("dovecot.conf", () => {
    test("IMAP, POP3 and LMTP into Maildir, for system users from uid 1000", () => {
        const conf = settingsMap(renderDovecotConf(args));
        assert.equal(conf.get("protocols"), "imap pop3 lmtp");
        assert.equal(conf.get("mail_location"), "maildir:~/Maildir");
        assert.equal(conf.get("first_valid_uid"), "1000");
        assert.equal(conf.get("postmaster_address"), "postmaster@linuxprobe.com");
        const text = renderDovecotConf(args);
        assert.match(text, /^passdb \{\n {2}driver = pam\n\}$/m);
        assert.match(text, /^userdb \{\n {2}driver = passwd\n\}$/m);
    });

    test("secure by default: TLS required, no plaintext password outside TLS, TLS 1.2 minimum", () => {
        const conf = settingsMap(renderDovecotConf(args));
        assert.equal(conf.get("ssl"), "required");
        assert.equal(conf.get("disable_plaintext_auth"), "yes");
        assert.equal(conf.get("ssl_min_protocol"), "TLSv1.2");
        assert.equal(conf.get("ssl_cert"), "</etc/pki/tls/certs/mailhost.pem");
        assert.equal(conf.get("ssl_key"), "</etc/pki/tls/private/mailhost.key");
    });

    test("allowPlaintextAuth restores the chapter's lab behaviour", () => {
        const conf = settingsMap(renderDovecotConf({ ...args, allowPlaintextAuth: true }));
        assert.equal(conf.get("disable_plaintext_auth"), "no");
        assert.equal(conf.get("ssl"), "yes");
    });

    test("the LMTP and auth sockets are where Postfix looks for them", () => {
        const text = renderDovecotConf(args);
        assert.ok(text.includes(`unix_listener /var/spool/postfix/${DOVECOT_SOCKETS.lmtp} {`));
        assert.ok(text.includes(`unix_listener /var/spool/postfix/${DOVECOT_SOCKETS.auth} {`));
    });

    test("imaps (993) and pop3s (995) listen with implicit TLS, 143 and 110 for STARTTLS", () => {
        const text = renderDovecotConf(args);
        assert.match(text, /inet_listener imaps \{\n {4}port = 993\n {4}ssl = yes\n/);
        assert.match(text, /inet_listener pop3s \{\n {4}port = 995\n {4}ssl = yes\n/);
        assert.match(text, /inet_listener imap \{\n {4}port = 143\n/);
        assert.match(text, /inet_listener pop3 \{\n {4}port = 110\n/);
    });

    test("dovecotSettings are applied last, each key once", () => {
        const conf = settingsMap(renderDovecotConf({ ...args, extraSettings: [["mail_debug", "yes"], ["ssl_min_protocol", "TLSv1.3"]] }));
        assert.equal(conf.get("mail_debug"), "yes");
        assert.equal(conf.get("ssl_min_protocol"), "TLSv1.3");
    });

    for (const os of OS_NAMES) {
        test(`${os}: equal to test/expected/${os}/dovecot.conf`, () => {
            const text = renderChapterFiles(os)["dovecot.conf"];
            assert.ok(text.includes(`ssl_cert = <${PLATFORMS[os].tls.certFile}`));
            assertExpected(os, "dovecot.conf", text);
        });
    }
});

describe("the Dovecot step script", () => {
    const script = renderDovecotScript(PLATFORMS.rhel8, args);
    test("validates with doveconf before replacing the live file, then reloads", () => {
        const validate = script.indexOf(`mh_validate "Dovecot" doveconf -n -c "$mh_stage/dovecot.conf"`);
        const put = script.indexOf("mh_put /etc/dovecot/dovecot.conf");
        assert.ok(validate > 0 && put > validate);
        assert.ok(script.indexOf(`mh_service dovecot "$changed"`) > put);
        assert.equal(bashSyntax(script).stderr, "");
        assert.equal(bashSyntax(script).status, 0);
    });
});
