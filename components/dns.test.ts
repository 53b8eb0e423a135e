import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { assertExpected, renderChapterFiles } from "../test/unit/expected";
import { DKIM_PLACEHOLDER, managedRecords, relativeName, renderDnsScript, renderNamedConf, renderZone, SERIAL_PLACEHOLDER, txtValue, ZoneArgs } from "./dns";
import { OS_NAMES, PLATFORMS } from "./platform";

const zoneArgs: ZoneArgs = {
    domain: "linuxprobe.com",
    hostname: "mail.linuxprobe.com",
    address: "192.168.10.10",
    dmarcPolicy: "quarantine",
    extraRecords: [],
};

/** Zone lines as [name, class, type, value] (the SOA and comments left out). */
function records(zone: string): string[][] {
    return zone
        .split("\n")
        .filter((l) => /^\S+\s+IN\s+/.test(l) && !l.includes(" SOA "))
        .map((l) => {
            const m = /^(\S+)\s+IN\s+(\S+)\s+(.*)$/.exec(l)!;
            return [m[1], m[2], m[3]];
        });
}

describe("the zone", () => {
    test("the chapter's zone: SOA, NS, A of ns and mail, MX 10 mail.linuxprobe.com.", () => {
        const zone = renderZone(zoneArgs);
        assert.match(zone, /^\$ORIGIN linuxprobe\.com\.$/m);
        assert.match(zone, /^@\s+IN SOA\s+ns\.linuxprobe\.com\. hostmaster\.linuxprobe\.com\. \($/m);
        const r = records(zone);
        assert.deepEqual(r.find(([n, t]) => n === "@" && t === "NS"), ["@", "NS", "ns.linuxprobe.com."]);
        assert.deepEqual(r.find(([n, t]) => n === "ns" && t === "A"), ["ns", "A", "192.168.10.10"]);
        assert.deepEqual(r.find(([n, t]) => n === "@" && t === "MX"), ["@", "MX", "10 mail.linuxprobe.com."]);
        assert.deepEqual(r.find(([n, t]) => n === "mail" && t === "A"), ["mail", "A", "192.168.10.10"]);
    });

    test("SPF and DMARC (policy from config) are published", () => {
        const r = records(renderZone({ ...zoneArgs, dmarcPolicy: "reject" }));
        assert.deepEqual(r.find(([n, t]) => n === "@" && t === "TXT"), ["@", "TXT", '"v=spf1 mx -all"']);
        const dmarc = r.find(([n]) => n === "_dmarc");
        assert.ok(dmarc && dmarc[2].includes("p=reject;"), String(dmarc));
    });

    test("the serial is a placeholder the host fills in; DKIM has its placeholder line", () => {
        const zone = renderZone(zoneArgs);
        assert.equal(zone.split(SERIAL_PLACEHOLDER).length, 2);
        assert.equal(zone.split("\n").filter((l) => l === DKIM_PLACEHOLDER).length, 1);
    });

    test("extra records follow the managed ones, TXT values quoted", () => {
        const zone = renderZone({
            ...zoneArgs,
            extraRecords: [
                { name: "www", type: "A", value: "192.168.10.20" },
                { name: "@", type: "TXT", value: "verify=abc" },
            ],
        });
        const r = records(zone);
        assert.deepEqual(r.slice(-2), [
            ["www", "A", "192.168.10.20"],
            ["@", "TXT", '"verify=abc"'],
        ]);
        assert.ok(zone.indexOf(DKIM_PLACEHOLDER) < zone.indexOf("www "));
    });

    test("a host name equal to ns or to the domain gives no duplicate record", () => {
        const ns = managedRecords({ ...zoneArgs, hostname: "ns.linuxprobe.com" });
        assert.equal(ns.filter((r) => r.name === "ns" && r.type === "A").length, 1);
        assert.ok(ns.some((r) => r.type === "MX" && r.value === "10 ns.linuxprobe.com."));
        const apex = managedRecords({ ...zoneArgs, hostname: "linuxprobe.com" });
        assert.equal(apex.filter((r) => r.name === "@" && r.type === "A").length, 1);
        assert.equal(relativeName("linuxprobe.com", "linuxprobe.com"), "@");
        assert.equal(relativeName("mail.linuxprobe.com", "linuxprobe.com"), "mail");
        assert.equal(relativeName("a.b.linuxprobe.com", "linuxprobe.com"), "a.b");
    });

    test("TXT values longer than 255 bytes are split into strings of at most 255", () => {
        assert.equal(txtValue("short"), '"short"');
        const long = "k=rsa; p=" + "A".repeat(600);
        const v = txtValue(long);
        const parts = [...v.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
        assert.ok(v.startsWith("( ") && v.endsWith(" )"));
        assert.equal(parts.join(""), long);
        assert.ok(parts.every((p) => p.length <= 255));
        assert.equal(parts.length, 3);
    });

    for (const os of OS_NAMES) {
        test(`${os}: equal to test/expected/${os}/linuxprobe.com.zone`, () => {
            assertExpected(os, "linuxprobe.com.zone", renderChapterFiles(os)["linuxprobe.com.zone"]);
        });
    }
});

describe("named.conf", () => {
    test("RHEL 8: /var/named, the zone file there, named-chroot's paths", () => {
        const conf = renderNamedConf(PLATFORMS.rhel8, "linuxprobe.com");
        assert.ok(conf.includes('directory "/var/named";'));
        assert.ok(conf.includes('file "/var/named/linuxprobe.com.zone";'));
        assert.ok(conf.includes('dump-file "/var/named/data/cache_dump.db";'));
        assert.ok(conf.includes('managed-keys-directory "/var/named/dynamic";'));
        assert.equal(PLATFORMS.rhel8.dns.namedConf, "/etc/named.conf");
        assert.equal(PLATFORMS.rhel8.dns.service, "named-chroot");
    });

    test("Debian 12: /var/lib/bind for zones, /var/cache/bind for data, /etc/bind/named.conf", () => {
        const conf = renderNamedConf(PLATFORMS.debian12, "linuxprobe.com");
        assert.ok(conf.includes('directory "/var/lib/bind";'));
        assert.ok(conf.includes('file "/var/lib/bind/linuxprobe.com.zone";'));
        assert.ok(conf.includes('dump-file "/var/cache/bind/cache_dump.db";'));
        assert.ok(!conf.includes("/var/named"));
        assert.equal(PLATFORMS.debian12.dns.namedConf, "/etc/bind/named.conf");
    });

    test("authoritative for everyone, recursive only for the host, no zone transfers", () => {
        for (const os of OS_NAMES) {
            const conf = renderNamedConf(PLATFORMS[os], "linuxprobe.com");
            assert.ok(conf.includes("allow-query { any; };"));
            assert.ok(conf.includes("allow-recursion { localhost; };"));
            assert.ok(conf.includes("allow-query-cache { localhost; };"));
            assert.ok(conf.includes("allow-transfer { none; };"));
            assert.match(conf, /zone "linuxprobe\.com" IN \{\n {4}type master;/);
            assert.equal((conf.match(/\{/g) ?? []).length, (conf.match(/\}/g) ?? []).length);
        }
    });

    for (const os of OS_NAMES) {
        test(`${os}: equal to test/expected/${os}/named.conf`, () => {
            assertExpected(os, "named.conf", renderChapterFiles(os)["named.conf"]);
        });
    }
});

describe("the DNS step script", () => {
    for (const os of OS_NAMES) {
        const p = PLATFORMS[os];
        const script = renderDnsScript(p, zoneArgs);

        test(`${os}: validates zone and named.conf before they replace the live ones`, () => {
            const checkzone = script.indexOf(`mh_validate "DNS zone" named-checkzone 'linuxprobe.com' "$mh_stage/zone"`);
            const checkconf = script.indexOf(`mh_validate "named.conf" named-checkconf "$mh_stage/named.conf"`);
            const put = script.indexOf("mh_put ");
            const putScript = script.indexOf("\nmh_put ");
            assert.ok(checkzone > 0 && checkconf > 0, "both validators run");
            assert.ok(put > 0 && putScript > checkzone && putScript > checkconf);
            assert.ok(script.includes(`live='${p.dns.zoneDir}/linuxprobe.com.zone'`));
            assert.ok(script.includes(`mh_put '${p.dns.namedConf}' 0640 root:${p.dns.group}`));
            assert.ok(script.includes(`mh_service ${p.dns.service} "$changed"`));
        });

        test(`${os}: the serial placeholder is replaced before validation; passes bash -n`, () => {
            const sed = script.indexOf(`sed -i "s/${SERIAL_PLACEHOLDER}/$serial/" "$mh_stage/zone"`);
            assert.ok(sed > 0 && sed < script.indexOf("named-checkzone"));
            assert.equal(bashSyntax(script).stderr, "");
            assert.equal(bashSyntax(script).status, 0);
        });
    }

    test("RHEL 8 stops the plain named unit in favour of named-chroot", () => {
        assert.ok(renderDnsScript(PLATFORMS.rhel8, zoneArgs).includes("systemctl disable --now named;"));
        assert.ok(!renderDnsScript(PLATFORMS.debian12, zoneArgs).includes("systemctl disable"));
    });
});
