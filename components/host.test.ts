import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { renderHostnameScript, renderPackagesScript } from "./host";
import { allPackages, OS_NAMES, PLATFORMS } from "./platform";

describe("host basics", () => {
    test("the host name and its /etc/hosts line", () => {
        const script = renderHostnameScript("mail.linuxprobe.com", "192.168.10.10");
        assert.ok(script.includes("want='mail.linuxprobe.com'"));
        assert.ok(script.includes("'192.168.10.10 mail.linuxprobe.com mail # mailhost'"));
        assert.ok(script.includes("hostnamectl set-hostname"));
        assert.equal(bashSyntax(script).stderr, "");
    });

    for (const os of OS_NAMES) {
        test(`${os}: packages are installed only when missing, after cloud-init`, () => {
            const p = PLATFORMS[os];
            const script = renderPackagesScript(p, allPackages(p));
            const check = script.indexOf(`\nif ! ${p.installedTest(allPackages(p))}; then\n`);
            assert.ok(check > 0, "installs only when a package is missing");
            const wait = script.indexOf("cloud-init status --wait");
            assert.ok(wait > 0 && wait < check, "waits for cloud-init first");
            assert.equal(bashSyntax(script).stderr, "");
            assert.equal(bashSyntax(script).status, 0);
        });
    }
});
