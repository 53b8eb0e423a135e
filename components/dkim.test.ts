import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { dkimKeyPaths, renderDkimScript, renderInternalHosts, renderOpendkimConf } from "./dkim";
import { PLATFORMS } from "./platform";

describe("OpenDKIM", () => {
    test("opendkim.conf: signs for the domain with its key, listens on the platform's UNIX socket", () => {
        const rhel = renderOpendkimConf(PLATFORMS.rhel8, "linuxprobe.com");
        assert.match(rhel, /^Socket {18}local:\/run\/opendkim\/opendkim\.sock$/m);
        assert.match(rhel, /^Domain {18}linuxprobe\.com$/m);
        assert.match(rhel, /^KeyFile {17}\/etc\/opendkim\/keys\/linuxprobe\.com\/mail\.private$/m);
        assert.match(rhel, /^Mode {20}sv$/m);
        // Debian's smtpd and cleanup are chrooted in the queue directory: the socket lives there.
        assert.match(renderOpendkimConf(PLATFORMS.debian12, "linuxprobe.com"), /^Socket {18}local:\/var\/spool\/postfix\/opendkim\/opendkim\.sock$/m);
        for (const p of Object.values(PLATFORMS)) assert.doesNotMatch(renderOpendkimConf(p, "linuxprobe.com"), /inet:/, p.name);
    });

    test("Postfix names the same socket OpenDKIM listens on", () => {
        for (const p of Object.values(PLATFORMS)) {
            const listen = p.dkimSocket.opendkim.replace(/^local:/, "");
            const named = p.dkimSocket.postfix.replace(/^unix:/, "");
            assert.equal(named.startsWith("/") ? named : `/var/spool/postfix/${named}`, listen, p.name);
            assert.equal(listen.slice(0, listen.lastIndexOf("/")), p.dkimSocket.dir, p.name);
        }
    });

    test("internal hosts: loopback and the trusted networks", () => {
        assert.equal(renderInternalHosts(["192.168.10.0/24"]), "127.0.0.1\n::1\n192.168.10.0/24\n");
    });

    test("the step: key made once, socket directory and postfix's group, validated config; passes bash -n", () => {
        for (const p of Object.values(PLATFORMS)) {
            const script = renderDkimScript({ platform: p, domain: "linuxprobe.com", trustedNetworks: ["192.168.10.0/24"] });
            assert.ok(script.includes(`\nif [ ! -s '${dkimKeyPaths("linuxprobe.com").privateKey}' ]; then\n  opendkim-genkey -b 2048 `), p.name);
            assert.ok(script.includes(`install -d -m 0750 -o opendkim -g opendkim /etc/opendkim /etc/opendkim/keys "$dir" ${p.dkimSocket.dir}\n`), p.name);
            assert.ok(script.includes(`if ! id -nG postfix | tr ' ' '\\n' | grep -qx opendkim; then usermod -a -G opendkim postfix;`), p.name);
            assert.ok(script.indexOf(`mh_validate "OpenDKIM" opendkim -n -x`) < script.indexOf("mh_put /etc/opendkim.conf"), p.name);
            assert.equal(bashSyntax(script).status, 0, bashSyntax(script).stderr);
        }
    });
});
