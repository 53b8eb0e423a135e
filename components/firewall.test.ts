import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bashSyntax } from "../test/unit/bash";
import { CLIENT_SERVICES, firewallPlan, PUBLIC_SERVICES, renderFirewallScript } from "./firewall";

describe("firewall plan", () => {
    test("by default: DNS, SMTP, the mail client services and SSH, open to everyone", () => {
        assert.deepEqual(firewallPlan({ sshPort: 22 }), {
            services: ["dns", "imap", "imaps", "pop3", "pop3s", "smtp", "smtp-submission", "smtps", "ssh"],
            ports: [],
            richRules: [],
        });
    });

    test("with clientCidrs: client services only from those networks, SMTP and DNS still public", () => {
        const plan = firewallPlan({ sshPort: 22, clientCidrs: ["192.168.10.0/24", "2001:db8::/32"] });
        assert.deepEqual(plan.services, ["dns", "smtp", "ssh"]);
        assert.equal(plan.richRules.length, 2 * CLIENT_SERVICES.length);
        assert.ok(plan.richRules.includes('rule family="ipv4" source address="192.168.10.0/24" service name="imaps" accept'));
        assert.ok(plan.richRules.includes('rule family="ipv6" source address="2001:db8::/32" service name="smtp-submission" accept'));
        for (const svc of PUBLIC_SERVICES) assert.ok(!plan.richRules.some((r) => r.includes(`service name="${svc}"`)));
    });

    test("a non-standard SSH port is opened as a port instead of the ssh service", () => {
        const plan = firewallPlan({ sshPort: 2222 });
        assert.ok(!plan.services.includes("ssh"));
        assert.deepEqual(plan.ports, ["2222/tcp"]);
    });
});

describe("the firewall step script", () => {
    const script = renderFirewallScript({ sshPort: 22 });

    test("enables firewalld and opens the services permanently, one call per option, reloading only on change", () => {
        assert.ok(script.includes("mh_service firewalld 0"));
        assert.ok(script.includes("sync service services 'dns' 'imap' 'imaps' 'pop3' 'pop3s' 'smtp' 'smtp-submission' 'smtps' 'ssh'\n"));
        assert.ok(script.includes('add+=("--add-$kind=$item")'));
        assert.ok(script.includes('remove+=("--remove-$kind=$item")'));
        assert.ok(script.includes('firewall-cmd --permanent "${add[@]}" >/dev/null; changed=1'));
        assert.ok(script.includes('firewall-cmd --permanent "${remove[@]}" >/dev/null; changed=1'));
        assert.match(script, /if \[ "\$changed" = 1 \]; then firewall-cmd --reload/);
    });

    test("never flushes iptables or resets the zone", () => {
        for (const s of [script, renderFirewallScript({ sshPort: 2222, clientCidrs: ["10.0.0.0/8"] })]) {
            assert.ok(!/iptables|nft |--flush|--set-default-zone|--load-zone-defaults|--complete-reload/.test(s));
        }
    });

    test("passes bash -n with rich rules and a custom SSH port", () => {
        const s = renderFirewallScript({ sshPort: 2222, clientCidrs: ["10.0.0.0/8", "2001:db8::/32"] });
        assert.ok(s.includes("sync port ports '2222/tcp'"));
        assert.ok(s.includes(`'rule family="ipv4" source address="10.0.0.0/8" service name="imap" accept'`));
        assert.equal(bashSyntax(s).stderr, "");
        assert.equal(bashSyntax(s).status, 0);
    });
});
