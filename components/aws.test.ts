import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as yaml from "js-yaml";
import { PORT25_NOTICE, PUBLIC_PORTS, RED_HAT_OWNER, renderUserData } from "./aws";

describe("AWS host", () => {
    test("cloud-init user data sets the FQDN, written as YAML", () => {
        const data = renderUserData("mail.linuxprobe.com");
        assert.ok(data.startsWith("#cloud-config\n"));
        const doc = yaml.load(data) as Record<string, unknown>;
        assert.deepEqual(doc, {
            hostname: "mail",
            fqdn: "mail.linuxprobe.com",
            prefer_fqdn_over_hostname: true,
            preserve_hostname: false,
            manage_etc_hosts: false,
        });
    });

    test("the world reaches 25, 53 tcp+udp, 110, 143, 465, 587, 993, 995, and not SSH", () => {
        const ports = PUBLIC_PORTS.map((p) => `${p.port}/${p.protocol}`).sort();
        assert.deepEqual(ports, ["110/tcp", "143/tcp", "25/tcp", "465/tcp", "53/tcp", "53/udp", "587/tcp", "993/tcp", "995/tcp"]);
    });

    test("RHEL AMIs come from Red Hat's account; the port 25 notice explains the block", () => {
        assert.equal(RED_HAT_OWNER, "309956199498");
        assert.match(PORT25_NOTICE, /port 25/);
        assert.match(PORT25_NOTICE, /587/);
    });
});
