import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { FAIL2BAN_DEFAULTS } from "./config";
import { DAEMON_FILE, JAIL_FILE, renderFail2banDeleteScript, renderFail2banScript, renderJailConf } from "./fail2ban";
import { PLATFORMS } from "./platform";

const ARGS = { limits: FAIL2BAN_DEFAULTS, trustedNetworks: ["192.168.10.0/24"] };

describe("fail2ban", () => {
    test("jails for SMTP AUTH and IMAP/POP3 logins, read from the journal, banned through firewalld", () => {
        const conf = renderJailConf(PLATFORMS.rhel8, ARGS);
        assert.match(conf, /^\[DEFAULT\]\nbackend = systemd\nbanaction = firewallcmd-rich-rules\[actiontype=<multiport>\]\n/m);
        assert.match(conf, /^ignoreip = 127\.0\.0\.1\/8 ::1 192\.168\.10\.0\/24$/m);
        assert.match(conf, /^maxretry = 5\nfindtime = 600\nbantime = 3600$/m);
        assert.match(conf, /^\[postfix-sasl\]\nenabled = true\nfilter = postfix\[mode=auth, journalmatch="_SYSTEMD_UNIT=postfix\.service"\]\nport = 25,465,587$/m);
        assert.match(conf, /^\[dovecot\]\nenabled = true\nport = 143,993,110,995$/m);
        // A deployer retrying with a wrong key must not lock itself out.
        assert.match(conf, /^\[sshd\]\nenabled = false$/m);
    });

    test("Debian: Postfix logs under its instance unit postfix@-", () => {
        assert.match(renderJailConf(PLATFORMS.debian12, ARGS), /journalmatch="_SYSTEMD_UNIT=postfix@-\.service"/);
    });

    test("the limits come from the config", () => {
        const conf = renderJailConf(PLATFORMS.debian12, { limits: { maxRetry: 3, findTime: 300, banTime: 86400 }, trustedNetworks: [] });
        assert.match(conf, /^maxretry = 3\nfindtime = 300\nbantime = 86400$/m);
        assert.match(conf, /^ignoreip = 127\.0\.0\.1\/8 ::1$/m);
    });

    test("the step validates a staged copy of the whole configuration before installing the jails; both scripts pass bash -n", () => {
        for (const p of Object.values(PLATFORMS)) {
            const script = renderFail2banScript(p, ARGS);
            const validate = script.indexOf(`mh_validate "fail2ban" fail2ban-client -c "$mh_stage/etc/fail2ban" --test`);
            assert.ok(validate > 0 && validate < script.indexOf(`mh_put ${JAIL_FILE}`), p.name);
            assert.ok(script.includes(`\nmh_service fail2ban "$changed"\n`), p.name);
            assert.equal(bashSyntax(script).status, 0, bashSyntax(script).stderr);
        }
        const del = renderFail2banDeleteScript();
        assert.ok(del.includes(`for f in ${JAIL_FILE} ${DAEMON_FILE}; do`));
        assert.ok(del.includes("systemctl disable --now --quiet fail2ban"));
        assert.equal(bashSyntax(del).status, 0, bashSyntax(del).stderr);
    });
});
