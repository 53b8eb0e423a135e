import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { certbotCommand, DEPLOY_HOOK, renderAcmeScript, renderDeployHook } from "./acme";
import { PLATFORMS } from "./platform";

const ACME = { email: "post+master@linuxprobe.com", server: "https://acme-v02.api.letsencrypt.org/directory" };
const PATHS = { certFile: "/etc/ssl/certs/mailhost.pem", keyFile: "/etc/ssl/private/mailhost.key" };

describe("the ACME step", () => {
    test("certbot: standalone HTTP-01, non-interactive, every value quoted, the certificate kept while valid", () => {
        assert.equal(
            certbotCommand(ACME, "mail.linuxprobe.com"),
            "certbot certonly --standalone --preferred-challenges http --non-interactive --agree-tos --no-eff-email " +
                "--email 'post+master@linuxprobe.com' --server 'https://acme-v02.api.letsencrypt.org/directory' --cert-name mailhost " +
                "--domain 'mail.linuxprobe.com' --key-type rsa --rsa-key-size 3072 --keep-until-expiring",
        );
    });

    test("the deploy hook installs key and chain, reloads Postfix and Dovecot only on a change, passes bash -n", () => {
        const hook = renderDeployHook(PATHS);
        assert.ok(hook.includes("\nlineage=${RENEWED_LINEAGE:-/etc/letsencrypt/live/mailhost}\n"));
        assert.ok(hook.includes(`mh_put '/etc/ssl/private/mailhost.key' 0600 root:root <"$lineage/privkey.pem" && changed=1`));
        assert.ok(hook.includes(`mh_put '/etc/ssl/certs/mailhost.pem' 0644 root:root <"$lineage/fullchain.pem" && changed=1`));
        assert.match(hook, /if \[ "\$changed" = 1 \]; then\n {2}for unit in postfix dovecot; do/);
        assert.equal(bashSyntax(hook).status, 0, bashSyntax(hook).stderr);
    });

    test("per OS: its renewal timer; the hook is shipped by the step; both pass bash -n", () => {
        for (const p of Object.values(PLATFORMS)) {
            const script = renderAcmeScript(p, { hostname: "mail.linuxprobe.com", acme: { ...ACME, caBundle: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }, ...p.tls }, "192.0.2.10");
            assert.ok(script.includes(`\nmh_service ${p.acme.renewTimer} 0\n`), p.name);
            assert.ok(script.includes(`\nmh_put ${DEPLOY_HOOK} 0755 root:root <<'`), p.name);
            assert.ok(script.includes(`/etc/systemd/system/${p.acme.renewService}.d/mailhost.conf`), p.name);
            assert.equal(bashSyntax(script).status, 0, bashSyntax(script).stderr);
        }
    });
});
