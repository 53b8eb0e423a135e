import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { TLS_CERTIFICATE, TLS_PRIVATE_KEY } from "../test/unit/fixtures";
import { heredocBody } from "../test/unit/run";
import { OS_NAMES, PLATFORMS } from "./platform";
import { FINGERPRINT_PREFIX, renderProvidedScript, renderSelfSignedScript } from "./tls";

describe("self-signed certificate", () => {
    for (const os of OS_NAMES) {
        const p = PLATFORMS[os];
        const script = renderSelfSignedScript(p, "mail.linuxprobe.com");
        test(`${os}: generated once for the host name, key 0600, fingerprint printed`, () => {
            assert.ok(script.includes(`cert='${p.tls.certFile}' key='${p.tls.keyFile}' name='mail.linuxprobe.com'`));
            assert.ok(script.includes(`-subj "/CN=$name"`));
            assert.ok(script.includes(`-addext "subjectAltName=DNS:$name"`));
            assert.ok(script.includes(`mh_put "$key" 0600 root:root`));
            assert.match(script, /openssl x509 -in "\$cert" -noout -checkend/);
            assert.ok(script.includes(`printf '${FINGERPRINT_PREFIX}%s\\n'`));
            assert.equal(bashSyntax(script).stderr, "");
            assert.equal(bashSyntax(script).status, 0);
        });
    }
});

describe("provided certificate", () => {
    const script = renderProvidedScript(PLATFORMS.rhel8, TLS_CERTIFICATE, TLS_PRIVATE_KEY);

    test("the key travels only inside the script, staged, then installed with mode 0600", () => {
        assert.equal(script.split(TLS_PRIVATE_KEY.trim()).length, 2);
        assert.equal(heredocBody(script, `cat >"$mh_stage/key"`), TLS_PRIVATE_KEY);
        assert.ok(script.includes(`mh_put '/etc/pki/tls/private/mailhost.key' 0600 root:root <"$mh_stage/key"`));
        assert.ok(script.includes(`mh_validate "TLS key pair"`));
    });

    test("is well-formed: bash -n without warnings", () => {
        const r = bashSyntax(script);
        assert.equal(r.stderr, "");
        assert.equal(r.status, 0);
        assert.ok(!script.includes("\nMAILHOST_EOF || true"));
    });

    test("the key pair is validated before it replaces the live files", () => {
        const validate = script.indexOf(`mh_validate "TLS key pair"`);
        const firstPut = script.indexOf("\nmh_put ");
        assert.ok(validate > 0 && firstPut > validate, "mh_put comes before mh_validate");
    });
});
