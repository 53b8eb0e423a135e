import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { allPackages, OS_NAMES, PLATFORMS, platformFor } from "./platform";

describe("platforms", () => {
    test("RHEL 8: bind-chroot postfix dovecot mailx firewalld, installed with dnf", () => {
        const pkgs = allPackages(PLATFORMS.rhel8);
        for (const p of ["bind-chroot", "postfix", "dovecot", "mailx", "firewalld"]) assert.ok(pkgs.includes(p), p);
        assert.match(PLATFORMS.rhel8.installCommand(pkgs), /^dnf install -y .*bind-chroot/m);
        assert.equal(PLATFORMS.rhel8.selinux, true);
    });

    test("Debian 12: the equivalents, installed with apt-get without prompts", () => {
        const pkgs = allPackages(PLATFORMS.debian12);
        for (const p of ["bind9", "postfix", "dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd", "bsd-mailx", "firewalld"]) assert.ok(pkgs.includes(p), p);
        const install = PLATFORMS.debian12.installCommand(pkgs);
        assert.ok(install.includes("export DEBIAN_FRONTEND=noninteractive"));
        assert.match(install, /^apt-get install -y .*dovecot-lmtpd/m);
    });

    test("install commands and installed tests are valid bash", () => {
        for (const os of OS_NAMES) {
            const p = platformFor(os);
            const pkgs = allPackages(p);
            const r = bashSyntax(`if ! ${p.installedTest(pkgs)}; then\n${p.installCommand(pkgs)}\nfi\n`);
            assert.equal(r.stderr, "", os);
            assert.equal(r.status, 0, os);
            assert.equal(new Set(pkgs).size, pkgs.length, `${os}: a package is listed twice`);
        }
    });

    test("platformFor returns the table entry of each OS", () => {
        for (const os of OS_NAMES) assert.equal(platformFor(os).name, os);
    });
});
