/**
 * The whole program under Pulumi's mocks (test/harness), for both targets and both
 * operating systems: the resource graph, the exact remote commands, secrets,
 * determinism, blast radius, and every generated script.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import * as yaml from "js-yaml";
import { REPO_ROOT, RegisteredResource } from "../test/harness/program";
import { bashSyntax, innerScriptOfDelete, shellcheckAll, shellcheckPath } from "../test/unit/bash";
import { postfixList, settingsMap } from "../test/unit/conf";
import { renderChapterFiles } from "../test/unit/expected";
import {
    awsConfig,
    chapterConfig,
    fullConfig,
    leaks,
    PASSWORD1,
    PASSWORD2,
    PASSWORD3,
    SSH_PRIVATE_KEY,
    SSH_PUBLIC_KEY,
    TLS_CERTIFICATE,
    TLS_PRIVATE_KEY,
} from "../test/unit/fixtures";
import { commands, diffRuns, GraphRun, heredocBody, node, resource, runWithGraph, stdinOf, transitiveDependencies, urnType } from "../test/unit/run";
import { PORT25_NOTICE, RED_HAT_OWNER } from "./aws";
import { renderFail2banDeleteScript } from "./fail2ban";
import { renderMailUserDeleteScript } from "./users";

// ---------------------------------------------------------------- the runs, once

const withTls = (cfg: Record<string, unknown>) => ({ ...cfg, tls: { certificate: TLS_CERTIFICATE, privateKey: TLS_PRIVATE_KEY } });

const CONFIGS = {
    /** The chapter: Pulumi.dev.yaml, RHEL 8 at 192.168.10.10, as root. */
    dev: chapterConfig(),
    /** The same again, for determinism. */
    dev2: chapterConfig(),
    /** The chapter on Debian 12, through a sudo user on another port. */
    deb: { ...chapterConfig(), os: "debian12", ssh: { host: "192.168.10.10", port: 2222, user: "admin" } },
    /** AWS with a region and the PTR record. */
    awsA: awsConfig({ region: "eu-central-1", reverseDns: true }),
    /** AWS with defaults and a provided certificate. */
    awsB: withTls(awsConfig()),
    /** Every option set. */
    fullRhel: fullConfig("rhel8"),
    fullDeb: fullConfig("debian12"),
    /** Blast radius: one change each from the chapter. */
    password: { ...chapterConfig(), users: [{ name: "liuchuan", password: PASSWORD3 }] },
    alias: { ...chapterConfig(), aliases: { dream: "root", info: "liuchuan" } },
    record: { ...chapterConfig(), dns: { extraRecords: [{ name: "www", type: "A", value: "192.168.10.20" }] } },
    userAdded: { ...chapterConfig(), users: [{ name: "liuchuan", password: PASSWORD1 }, { name: "wang_li", password: PASSWORD2 }] },
    /** The certificate from Let's Encrypt (RHEL 8 over SSH), and from a private ACME CA (AWS). */
    acmeRhel: { ...chapterConfig(), acme: { email: "postmaster@linuxprobe.com" } },
    acmeAws: { ...awsConfig(), acme: { email: "postmaster@linuxprobe.com", server: "https://acme.internal.example/directory", caBundle: TLS_CERTIFICATE } },
};
type RunName = keyof typeof CONFIGS;

/** All runs, started at once (each is a child process). */
const RUNS: Promise<Record<RunName, GraphRun>> = (async () => {
    const names = Object.keys(CONFIGS) as RunName[];
    const runs = await Promise.all(names.map((n) => runWithGraph(CONFIGS[n])));
    return Object.fromEntries(names.map((n, i) => [n, runs[i]])) as Record<RunName, GraphRun>;
})();
// The tests await RUNS; keep an early failure from being reported as unhandled.
RUNS.catch(() => undefined);

async function run(name: RunName): Promise<GraphRun> {
    const r = (await RUNS)[name];
    assert.equal(r.error, undefined, `run ${name} failed: ${r.error}`);
    return r;
}

/** The runs that deploy something (the blast-radius variants are only compared). */
const DEPLOYS: RunName[] = ["dev", "deb", "awsA", "awsB", "fullRhel", "fullDeb", "acmeRhel", "acmeAws"];
const WITH_PROVIDED_TLS: RunName[] = ["awsB", "fullRhel", "fullDeb"];

const CHAPTER_COMMANDS = [
    "mailhost-host-packages",
    "mailhost-host-hostname",
    "mailhost-firewall-rules",
    "mailhost-tls-certificate",
    "mailhost-dkim-opendkim",
    "mailhost-dns-zone",
    "mailhost-dovecot-config",
    "mailhost-postfix-config",
    "mailhost-user-liuchuan-account",
    "mailhost-aliases-aliases",
    "mailhost-fail2ban-jails",
];

/** The component each remote command belongs to. */
const COMMAND_PARENT: Record<string, string> = {
    "mailhost-host-packages": "mailhost:host:Host",
    "mailhost-host-hostname": "mailhost:host:Host",
    "mailhost-firewall-rules": "mailhost:firewall:Firewall",
    "mailhost-tls-certificate": "mailhost:tls:Tls",
    "mailhost-dns-zone": "mailhost:dns:Dns",
    "mailhost-dovecot-config": "mailhost:dovecot:Dovecot",
    "mailhost-postfix-config": "mailhost:postfix:Postfix",
    "mailhost-user-liuchuan-account": "mailhost:users:MailUser",
    "mailhost-aliases-aliases": "mailhost:aliases:Aliases",
    "mailhost-dkim-opendkim": "mailhost:dkim:Dkim",
    "mailhost-fail2ban-jails": "mailhost:fail2ban:Fail2ban",
};

const DKIM_COMMAND = "mailhost-dkim-opendkim";
const FAIL2BAN_COMMAND = "mailhost-fail2ban-jails";
/** The names of a run's remote commands. */
const commandNames = (r: GraphRun) => commands(r).map((c) => c.name);

const AWS_TYPES = ["aws:ec2/securityGroup:SecurityGroup", "aws:ec2/keyPair:KeyPair", "aws:ec2/instance:Instance", "aws:ec2/eip:Eip"];

/** The files a run's scripts write, as embedded in its steps. */
function embeddedFiles(r: GraphRun): Record<string, string> {
    return {
        "main.cf": heredocBody(stdinOf(r, "mailhost-postfix-config"), `cat >"$mh_stage/main.cf"`),
        "master.cf": heredocBody(stdinOf(r, "mailhost-postfix-config"), `cat >"$mh_stage/master.cf"`),
        "dovecot.conf": heredocBody(stdinOf(r, "mailhost-dovecot-config"), `cat >"$mh_stage/dovecot.conf"`),
        "named.conf": heredocBody(stdinOf(r, "mailhost-dns-zone"), `cat >"$mh_stage/named.conf"`),
        "linuxprobe.com.zone": heredocBody(stdinOf(r, "mailhost-dns-zone"), `cat >"$mh_stage/zone"`),
        "aliases-block": heredocBody(stdinOf(r, "mailhost-aliases-aliases"), `cat >"$mh_stage/block"`),
    };
}

// ---------------------------------------------------------------- the chapter

describe("the chapter's scenario (Pulumi.dev.yaml: RHEL 8 at 192.168.10.10 over SSH)", () => {
    test("registers the mail system's components, typed mailhost:<module>:<Type>", async () => {
        const r = await run("dev");
        const components = r.resources.filter((x) => x.type.startsWith("mailhost:")).map((x) => `${x.type} ${x.name}`);
        assert.deepEqual(components, [
            "mailhost:mailSystem:MailSystem mailhost",
            "mailhost:host:Host mailhost-host",
            "mailhost:firewall:Firewall mailhost-firewall",
            "mailhost:tls:Tls mailhost-tls",
            "mailhost:dkim:Dkim mailhost-dkim",
            "mailhost:dns:Dns mailhost-dns",
            "mailhost:dovecot:Dovecot mailhost-dovecot",
            "mailhost:postfix:Postfix mailhost-postfix",
            "mailhost:users:MailUser mailhost-user-liuchuan",
            "mailhost:aliases:Aliases mailhost-aliases",
            "mailhost:fail2ban:Fail2ban mailhost-fail2ban",
        ]);
        for (const c of components) {
            const module = c.split(":")[1];
            assert.ok(fs.existsSync(path.join(REPO_ROOT, "components", `${module}.ts`)), `no components/${module}.ts for ${c}`);
        }
        const others = r.resources.filter((x) => !x.type.startsWith("mailhost:") && x.type !== "command:remote:Command");
        assert.deepEqual(others.map((x) => x.type), [], "an SSH stack creates nothing else");
    });

    test("every component is a child of MailSystem; every command a child of its component", async () => {
        const r = await run("dev");
        for (const n of r.graph.nodes) {
            if (n.type === "mailhost:mailSystem:MailSystem") assert.equal(n.parent, "");
            else if (n.type.startsWith("mailhost:")) assert.equal(urnType(n.parent), "mailhost:mailSystem:MailSystem", n.name);
            else assert.equal(urnType(n.parent), COMMAND_PARENT[n.name], n.name);
        }
    });

    test("the remote commands (their order is checked through dependencies, below)", async () => {
        assert.deepEqual(commandNames(await run("dev")).sort(), [...CHAPTER_COMMANDS].sort());
    });

    test("order: packages before everything, dovecot before postfix, users after postfix, aliases last", async () => {
        const r = await run("dev");
        const deps = (name: string) => transitiveDependencies(r, name);
        assert.deepEqual([...deps("mailhost-host-packages")], []);
        for (const c of CHAPTER_COMMANDS.slice(1)) {
            assert.ok(deps(c).has("mailhost-host-packages"), `${c} does not wait for the packages`);
            assert.ok(c === "mailhost-host-hostname" || deps(c).has("mailhost-host-hostname"), `${c} does not wait for the host name`);
        }
        assert.ok(deps("mailhost-dovecot-config").has("mailhost-tls-certificate"));
        assert.ok(deps("mailhost-postfix-config").has("mailhost-dovecot-config"), "postfix before dovecot");
        assert.ok(deps("mailhost-postfix-config").has("mailhost-tls-certificate"));
        assert.ok(!deps("mailhost-dovecot-config").has("mailhost-postfix-config"));
        assert.ok(deps("mailhost-user-liuchuan-account").has("mailhost-postfix-config"), "user before postfix");
        const aliases = deps("mailhost-aliases-aliases");
        for (const c of ["mailhost-postfix-config", "mailhost-dovecot-config", "mailhost-user-liuchuan-account"]) assert.ok(aliases.has(c), `aliases before ${c}`);
        for (const c of CHAPTER_COMMANDS) assert.ok(!deps(c).has("mailhost-aliases-aliases"), `${c} waits for the aliases`);
        // fail2ban watches the daemons' logins and bans through the firewall: all three first.
        for (const c of ["mailhost-firewall-rules", "mailhost-postfix-config", "mailhost-dovecot-config"]) assert.ok(deps(FAIL2BAN_COMMAND).has(c), `fail2ban before ${c}`);
    });

    test("DKIM: OpenDKIM before Postfix hands it mail and before the zone publishes its key", async () => {
        const r = await run("dev");
        assert.ok(transitiveDependencies(r, "mailhost-postfix-config").has(DKIM_COMMAND));
        assert.ok(transitiveDependencies(r, "mailhost-dns-zone").has(DKIM_COMMAND));
        assert.ok(transitiveDependencies(r, DKIM_COMMAND).has("mailhost-host-packages"));
    });

    test("users wait for postfix, and aliases for every user (two users)", async () => {
        const r = await run("userAdded");
        for (const u of ["mailhost-user-liuchuan-account", "mailhost-user-wang_li-account"]) {
            assert.ok(transitiveDependencies(r, u).has("mailhost-postfix-config"), u);
            assert.ok(transitiveDependencies(r, "mailhost-aliases-aliases").has(u), u);
        }
    });

    test("each command runs `bash -s` as root on 192.168.10.10, its script on stdin", async () => {
        for (const c of commands(await run("dev"))) {
            assert.equal(c.inputs.create, "bash -s", c.name);
            assert.deepEqual(c.inputs.connection, { host: "192.168.10.10", port: 22, user: "root", privateKey: SSH_PRIVATE_KEY, dialErrorLimit: 10, perDialTimeout: 15 });
            assert.match(String(c.inputs.stdin), /^#!\/bin\/bash\n# mailhost: .*\nset -euo pipefail\n/);
            assert.equal(c.inputs.update, undefined);
            assert.equal(c.inputs.addPreviousOutputInEnv, false);
            if (c.name === "mailhost-user-liuchuan-account") assert.match(String(c.inputs.delete), /^bash -c '#!\/bin\/bash\n# mailhost: remove mail user liuchuan\n[^]*' <\/dev\/null$/);
            else if (c.name === FAIL2BAN_COMMAND) assert.match(String(c.inputs.delete), /^bash -c '#!\/bin\/bash\n# mailhost: remove the mail jails of fail2ban\n[^]*' <\/dev\/null$/);
            else assert.equal(c.inputs.delete, undefined, `${c.name} has a delete command`);
        }
    });

    test("main.cf carries the chapter's Postfix settings", async () => {
        const main = settingsMap(embeddedFiles(await run("dev"))["main.cf"]);
        assert.equal(main.get("myhostname"), "mail.linuxprobe.com");
        assert.equal(main.get("mydomain"), "linuxprobe.com");
        assert.equal(main.get("myorigin"), "$mydomain");
        assert.equal(main.get("inet_interfaces"), "all");
        assert.ok(postfixList(main.get("mydestination")).includes("$mydomain"));
        assert.ok(postfixList(main.get("mynetworks")).includes("192.168.10.0/24"));
    });

    test("the zone: SOA, NS, ns A, MX 10 mail.linuxprobe.com., mail A 192.168.10.10", async () => {
        const zone = embeddedFiles(await run("dev"))["linuxprobe.com.zone"];
        const lines = zone.split("\n").map((l) => l.replace(/\s+/g, " "));
        assert.ok(lines.includes("@ IN SOA ns.linuxprobe.com. hostmaster.linuxprobe.com. ("), zone);
        for (const l of ["@ IN NS ns.linuxprobe.com.", "ns IN A 192.168.10.10", "@ IN MX 10 mail.linuxprobe.com.", "mail IN A 192.168.10.10"]) {
            assert.ok(lines.includes(l), `missing: ${l}`);
        }
    });

    test("the aliases block has dream: root", async () => {
        assert.ok(embeddedFiles(await run("dev"))["aliases-block"].split("\n").includes("dream: root"));
    });

    test("the files reach the host exactly as rendered (test/expected/rhel8)", async () => {
        const files = embeddedFiles(await run("dev"));
        const expected = renderChapterFiles("rhel8");
        for (const [name, content] of Object.entries(expected)) assert.equal(files[name], content, name);
    });

    test("firewalld opens DNS, SMTP, the mail client services and SSH", async () => {
        const fw = stdinOf(await run("dev"), "mailhost-firewall-rules");
        assert.ok(fw.includes("\nsync service services 'dns' 'imap' 'imaps' 'pop3' 'pop3s' 'smtp' 'smtp-submission' 'smtps' 'ssh'\n"));
        assert.ok(fw.includes("\nsync port ports \n"));
    });

    test("packages, host name and the user's account", async () => {
        const r = await run("dev");
        assert.match(stdinOf(r, "mailhost-host-packages"), /\n {2}dnf install -y .*\bbind-chroot\b.*\bpostfix\b.*\bdovecot\b.*\bmailx\b/);
        const host = stdinOf(r, "mailhost-host-hostname");
        assert.ok(host.includes("want='mail.linuxprobe.com'"));
        assert.ok(host.includes("'192.168.10.10 mail.linuxprobe.com mail # mailhost'"));
        assert.ok(stdinOf(r, "mailhost-user-liuchuan-account").includes("\nuser='liuchuan'\n"));
    });

    test("outputs: address, host name, registrar records, client settings, SSH command", async () => {
        const o = (await run("dev")).outputs;
        assert.equal(o.publicIp, "192.168.10.10");
        assert.equal(o.hostname, "mail.linuxprobe.com");
        assert.equal(o.sshCommand, "ssh -p 22 root@192.168.10.10");
        assert.deepEqual((o.dnsRecords as { glue: unknown }).glue, [{ name: "ns.linuxprobe.com.", type: "A", value: "192.168.10.10" }]);
        assert.equal((o.clientSettings as { incoming: { port: number }[] }).incoming[0].port, 993);
        assert.equal(o.port25Notice, undefined);
        assert.deepEqual(o.warnings, []);
    });
});

describe("Debian 12 through a non-root SSH user", () => {
    test("runs `sudo -n bash -s`, deletes with `sudo -n bash -c`, as admin on port 2222", async () => {
        const r = await run("deb");
        assert.deepEqual(commandNames(r).sort(), [...CHAPTER_COMMANDS].sort());
        for (const c of commands(r)) {
            assert.equal(c.inputs.create, "sudo -n bash -s", c.name);
            assert.deepEqual(c.inputs.connection, { host: "192.168.10.10", port: 2222, user: "admin", privateKey: SSH_PRIVATE_KEY, dialErrorLimit: 10, perDialTimeout: 15 });
        }
        assert.match(String(resource(r, "mailhost-user-liuchuan-account").inputs.delete), /^sudo -n bash -c '/);
        assert.equal(r.outputs.sshCommand, "ssh -p 2222 admin@192.168.10.10");
    });

    test("the files reach the host exactly as rendered (test/expected/debian12)", async () => {
        const files = embeddedFiles(await run("deb"));
        const expected = renderChapterFiles("debian12");
        for (const [name, content] of Object.entries(expected)) assert.equal(files[name], content, name);
    });

    test("apt-get installs the Debian packages; the SSH port stays open in firewalld", async () => {
        const r = await run("deb");
        assert.match(stdinOf(r, "mailhost-host-packages"), /apt-get install -y .*\bbind9\b.*\bdovecot-lmtpd\b.*\bbsd-mailx\b/);
        const fw = stdinOf(r, "mailhost-firewall-rules");
        assert.ok(fw.includes("\nsync port ports '2222/tcp'\n"));
        assert.ok(!fw.includes("'ssh'"));
    });
});

// ---------------------------------------------------------------- AWS

describe("target aws", () => {
    test("an AwsHost component owns the security group, key pair, instance and Elastic IP", async () => {
        for (const name of ["awsA", "awsB"] as const) {
            const r = await run(name);
            assert.ok(r.resources.some((x) => x.type === "mailhost:aws:AwsHost" && x.name === "mailhost"));
            for (const t of AWS_TYPES) {
                const n = r.graph.nodes.filter((x) => x.type === t);
                assert.equal(n.length, 1, `${name}: ${t}`);
                assert.equal(urnType(n[0].parent), "mailhost:aws:AwsHost");
            }
        }
    });

    test("security group: SSH only from adminCidrs; 25, 53 tcp+udp, 110, 143, 465, 587, 993, 995 from everywhere", async () => {
        const sg = resource(await run("awsA"), "mailhost-sg").inputs as { ingress: Record<string, unknown>[] };
        const ssh = sg.ingress.filter((i) => Number(i.fromPort) <= 22 && Number(i.toPort) >= 22);
        assert.equal(ssh.length, 1);
        assert.deepEqual(ssh[0].cidrBlocks, ["203.0.113.7/32"]);
        assert.deepEqual(ssh[0].ipv6CidrBlocks, ["2001:db8:7::/48"]);
        const open = sg.ingress.filter((i) => i !== ssh[0]);
        assert.deepEqual(open.map((i) => `${i.fromPort}-${i.toPort}/${i.protocol}`).sort(), ["110-110/tcp", "143-143/tcp", "25-25/tcp", "465-465/tcp", "53-53/tcp", "53-53/udp", "587-587/tcp", "993-993/tcp", "995-995/tcp"]);
        for (const i of open) {
            assert.deepEqual(i.cidrBlocks, ["0.0.0.0/0"]);
            assert.deepEqual(i.ipv6CidrBlocks, ["::/0"]);
        }
    });

    test("key pair from aws.sshPublicKey; instance with the AMI found and cloud-init's FQDN; Elastic IP", async () => {
        const r = await run("awsA");
        assert.deepEqual(resource(r, "mailhost-key").inputs, { publicKey: SSH_PUBLIC_KEY });
        const inst = resource(r, "mailhost-instance").inputs;
        assert.equal(inst.ami, "ami-0rhel8");
        assert.equal(inst.instanceType, "t3.small");
        assert.equal(inst.keyName, "mailhost-key");
        assert.deepEqual(inst.vpcSecurityGroupIds, ["mailhost-sg-id"]);
        const userData = String(inst.userData);
        assert.ok(userData.startsWith("#cloud-config\n"));
        assert.equal((yaml.load(userData) as { fqdn: string }).fqdn, "mail.linuxprobe.com");
        assert.deepEqual(node(r, "mailhost-instance").ignoreChanges, ["ami"]);
        const eip = resource(r, "mailhost-eip").inputs;
        assert.equal(eip.instance, "mailhost-instance-id");
        assert.equal(eip.domain, "vpc");
    });

    test("the PTR record (EipDomainName) exists only with reverseDns: true", async () => {
        const a = await run("awsA");
        assert.deepEqual(resource(a, "mailhost-ptr").inputs, { allocationId: "eipalloc-1", domainName: "mail.linuxprobe.com" });
        assert.equal(resource(a, "mailhost-ptr").type, "aws:ec2/eipDomainName:EipDomainName");
        const b = await run("awsB");
        assert.equal(b.resources.filter((x) => x.type === "aws:ec2/eipDomainName:EipDomainName").length, 0);
    });

    test("the AMI is the newest RHEL 8 x86_64 image of Red Hat (owner 309956199498)", async () => {
        for (const name of ["awsA", "awsB"] as const) {
            const amis = (await run(name)).graph.invokes.filter((i) => i.token === "aws:ec2/getAmi:getAmi");
            assert.equal(amis.length, 1);
            const args = amis[0].args as { owners: string[]; mostRecent: boolean; filters: { name: string; values: string[] }[] };
            assert.deepEqual(args.owners, [RED_HAT_OWNER]);
            assert.equal(RED_HAT_OWNER, "309956199498");
            assert.equal(args.mostRecent, true);
            assert.ok(args.filters.some((f) => f.name === "name" && f.values.every((v) => v.startsWith("RHEL-8"))));
            assert.ok(args.filters.some((f) => f.name === "architecture" && f.values.join() === "x86_64"));
        }
    });

    test("aws.region makes an explicit provider, used by every AWS resource and the AMI lookup", async () => {
        const a = await run("awsA");
        const provider = resource(a, "mailhost-provider");
        assert.equal(provider.type, "pulumi:providers:aws");
        assert.equal(provider.inputs.region, "eu-central-1");
        for (const t of AWS_TYPES) assert.match(a.graph.nodes.find((n) => n.type === t)!.provider, /::mailhost-provider::/);
        assert.match(a.graph.invokes[0].provider, /::mailhost-provider::/);
        const b = await run("awsB");
        assert.equal(b.resources.filter((x) => x.type === "pulumi:providers:aws").length, 0);
    });

    test("remote commands connect as ec2-user to the Elastic IP, with sudo, after it exists", async () => {
        for (const name of ["awsA", "awsB"] as const) {
            const r = await run(name);
            for (const c of commands(r)) {
                assert.equal(c.inputs.create, "sudo -n bash -s", c.name);
                assert.deepEqual(c.inputs.connection, { host: "203.0.113.10", port: 22, user: "ec2-user", privateKey: SSH_PRIVATE_KEY, dialErrorLimit: 60, perDialTimeout: 15 });
            }
            assert.ok(transitiveDependencies(r, "mailhost-host-packages").has("mailhost-eip"));
            assert.ok(transitiveDependencies(r, "mailhost-host-packages").has("mailhost-instance"));
        }
    });

    test("the zone and /etc/hosts publish the Elastic IP", async () => {
        const r = await run("awsA");
        const zone = embeddedFiles(r)["linuxprobe.com.zone"].split("\n").map((l) => l.replace(/\s+/g, " "));
        assert.ok(zone.includes("mail IN A 203.0.113.10"));
        assert.ok(zone.includes("ns IN A 203.0.113.10"));
        assert.ok(stdinOf(r, "mailhost-host-hostname").includes("'203.0.113.10 mail.linuxprobe.com mail # mailhost'"));
    });

    test("outputs: the Elastic IP, the SSH command and the port 25 notice", async () => {
        const o = (await run("awsA")).outputs;
        assert.equal(o.publicIp, "203.0.113.10");
        assert.equal(o.sshCommand, "ssh -p 22 ec2-user@203.0.113.10");
        assert.equal(o.port25Notice, PORT25_NOTICE);
        assert.deepEqual((o.dnsRecords as { glue: unknown }).glue, [{ name: "ns.linuxprobe.com.", type: "A", value: "203.0.113.10" }]);
    });
});

// ---------------------------------------------------------------- secrets

describe("secrets (every resource of both targets, both OSes, all options)", () => {
    const allResources = async () => (await Promise.all(DEPLOYS.map(async (n) => (await run(n)).resources.map((r) => [n, r] as const)))).flat();

    test("no password or key in any create, delete or update command string", async () => {
        for (const [n, r] of await allResources()) {
            for (const k of ["create", "delete", "update"]) {
                assert.deepEqual(leaks(JSON.stringify(r.inputs[k] ?? "")), [], `${n}: ${r.name}.${k}`);
            }
        }
    });

    test("no password or key in any input that is not secret", async () => {
        let checked = 0;
        for (const [n, r] of await allResources()) {
            for (const [k, v] of Object.entries(r.inputs)) {
                if (r.secretInputs.includes(k)) continue;
                checked++;
                assert.deepEqual(leaks(JSON.stringify(v)), [], `${n}: ${r.type} ${r.name} input ${k} is not secret`);
            }
        }
        assert.ok(checked > 100);
    });

    test("no password or key in any output of the program", async () => {
        for (const n of DEPLOYS) assert.deepEqual(leaks(JSON.stringify((await run(n)).outputs)), [], n);
    });

    test("the connection, holding the SSH key, is secret on every command", async () => {
        for (const n of DEPLOYS) {
            for (const c of commands(await run(n))) {
                assert.ok(c.secretInputs.includes("connection"), `${n}: ${c.name}`);
                assert.equal((c.inputs.connection as { privateKey: string }).privateKey, SSH_PRIVATE_KEY);
            }
        }
    });

    test("each user's password travels only in its step's secret stdin, whose output is secret and not logged", async () => {
        const passwords: Record<string, string> = { liuchuan: PASSWORD1, wang_li: PASSWORD2 };
        let users = 0;
        for (const n of DEPLOYS) {
            const r = await run(n);
            for (const c of commands(r).filter((x) => x.name.startsWith("mailhost-user-"))) {
                users++;
                const user = c.name.replace(/^mailhost-user-/, "").replace(/-account$/, "");
                assert.ok(c.secretInputs.includes("stdin"), `${n}: ${c.name} stdin is not secret`);
                assert.ok(String(c.inputs.stdin).includes(passwords[user]), `${n}: ${c.name} does not carry the password`);
                assert.equal(c.inputs.logging, "none");
                const secretOutputs = node(r, c.name).additionalSecretOutputs;
                assert.ok(secretOutputs.includes("stdout") && secretOutputs.includes("stderr"), `${n}: ${c.name} output is not secret`);
                for (const other of commands(r).filter((x) => x !== c)) {
                    assert.ok(!String(other.inputs.stdin).includes(passwords[user]), `${n}: ${other.name} carries ${user}'s password`);
                }
            }
        }
        assert.equal(users, 10); // one in each of dev, deb, awsA, awsB, acmeRhel, acmeAws; two in each full config
    });

    test("a provided TLS key travels only in the certificate step's secret stdin", async () => {
        for (const n of WITH_PROVIDED_TLS) {
            const r = await run(n);
            const c = resource(r, "mailhost-tls-certificate");
            assert.ok(c.secretInputs.includes("stdin"), `${n}: the TLS step's stdin is not secret`);
            assert.ok(String(c.inputs.stdin).includes(TLS_PRIVATE_KEY), n);
            assert.equal(c.inputs.logging, "none");
            assert.ok(node(r, c.name).additionalSecretOutputs.includes("stdout"));
            for (const other of r.resources.filter((x) => x !== c)) {
                const { connection: _c, ...rest } = other.inputs;
                void _c;
                assert.ok(!JSON.stringify(rest).includes("CANARYTLSKEY"), `${n}: ${other.name} carries the TLS key`);
            }
        }
        const selfSigned = resource(await run("dev"), "mailhost-tls-certificate");
        assert.equal(selfSigned.secretInputs.includes("stdin"), false, "a step without secrets stays readable");
        assert.equal(selfSigned.inputs.logging, "stdoutAndStderr");
    });

    test("steps without secrets keep readable logs; only secret steps hide them", async () => {
        for (const n of DEPLOYS) {
            for (const c of commands(await run(n))) {
                const secret = c.secretInputs.includes("stdin");
                assert.equal(c.inputs.logging, secret ? "none" : "stdoutAndStderr", `${n}: ${c.name}`);
            }
        }
    });
});

// ---------------------------------------------------------------- determinism, blast radius

describe("determinism", () => {
    test("two runs with the same config register byte-identical inputs", async () => {
        const [a, b] = [await run("dev"), await run("dev2")];
        assert.equal(JSON.stringify(a.resources), JSON.stringify(b.resources));
        assert.equal(JSON.stringify(a.outputs), JSON.stringify(b.outputs));
        assert.deepEqual(a.graph.nodes, b.graph.nodes);
    });

    test("the comparison sees a difference (a different config differs)", async () => {
        assert.notEqual(JSON.stringify((await run("dev")).resources), JSON.stringify((await run("record")).resources));
    });
});

describe("blast radius", () => {
    test("changing one user's password changes exactly that user's command", async () => {
        assert.deepEqual(diffRuns(await run("dev"), await run("password")), { added: [], removed: [], changed: ["mailhost-user-liuchuan-account"] });
    });

    test("adding an alias changes only the aliases command", async () => {
        assert.deepEqual(diffRuns(await run("dev"), await run("alias")), { added: [], removed: [], changed: ["mailhost-aliases-aliases"] });
    });

    test("adding a DNS record changes only the DNS command", async () => {
        assert.deepEqual(diffRuns(await run("dev"), await run("record")), { added: [], removed: [], changed: ["mailhost-dns-zone"] });
    });

    test("adding a user adds one MailUser and its command, and changes nothing else", async () => {
        const r = await run("userAdded");
        assert.deepEqual(diffRuns(await run("dev"), r), { added: ["mailhost-user-wang_li", "mailhost-user-wang_li-account"], removed: [], changed: [] });
        assert.equal(resource(r, "mailhost-user-wang_li").type, "mailhost:users:MailUser");
        assert.equal(resource(r, "mailhost-user-wang_li-account").type, "command:remote:Command");
    });
});

// ---------------------------------------------------------------- every script

/** Every script of the deploying runs, deduplicated by content, keyed by where it comes from. */
async function allScripts(): Promise<Map<string, { script: string; todo?: string }>> {
    const seen = new Set<string>();
    const out = new Map<string, { script: string; todo?: string }>();
    const add = (key: string, script: string, todo?: string) => {
        if (seen.has(script)) return;
        seen.add(script);
        out.set(key, { script, todo });
    };
    for (const n of DEPLOYS) {
        for (const c of commands(await run(n))) {
            const stdin = String(c.inputs.stdin);
            add(`${n}: ${c.name} stdin`, stdin);
            if (typeof c.inputs.delete === "string") add(`${n}: ${c.name} delete script`, innerScriptOfDelete(c.inputs.delete));
        }
    }
    return out;
}

describe("mailhost:acme", () => {
    const ACME_STEP = "mailhost-acme-certificate";

    test("certbot is installed, port 80 opened, and the ACME step runs once DNS, the firewall and both daemons are up", async () => {
        const r = await run("acmeRhel");
        assert.match(stdinOf(r, "mailhost-host-packages"), /\n {2}dnf install -y .*\bopendkim\b.*\bcertbot$/m);
        assert.ok(stdinOf(r, "mailhost-firewall-rules").includes("\nsync service services 'dns' 'http' 'imap' "));
        const deps = transitiveDependencies(r, ACME_STEP);
        for (const c of ["mailhost-dns-zone", "mailhost-firewall-rules", "mailhost-postfix-config", "mailhost-dovecot-config", "mailhost-tls-certificate"]) assert.ok(deps.has(c), c);
        assert.equal(urnType(node(r, ACME_STEP).parent), "mailhost:acme:Acme");
    });

    test("the exact certbot command, the renewal timer of RHEL 8, the deploy hook; no CA bundle for Let's Encrypt", async () => {
        const script = stdinOf(await run("acmeRhel"), ACME_STEP);
        assert.ok(
            script.includes(
                "\nif ! certbot certonly --standalone --preferred-challenges http --non-interactive --agree-tos --no-eff-email " +
                    "--email 'postmaster@linuxprobe.com' --server 'https://acme-v02.api.letsencrypt.org/directory' --cert-name mailhost " +
                    "--domain 'mail.linuxprobe.com' --key-type rsa --rsa-key-size 3072 --keep-until-expiring >\"$mh_stage/certbot.log\" 2>&1; then\n",
            ),
        );
        assert.ok(script.includes("\nmh_service certbot-renew.timer 0\n"));
        assert.ok(script.includes("\nmh_put /etc/letsencrypt/renewal-hooks/deploy/mailhost 0755 root:root <<'"));
        assert.ok(script.includes("mh_put '/etc/pki/tls/private/mailhost.key' 0600 root:root <\"$lineage/privkey.pem\" && changed=1"));
        assert.ok(script.includes("must resolve to 192.168.10.10 in public DNS"));
        assert.ok(!script.includes("REQUESTS_CA_BUNDLE"));
        // The self-signed certificate only bridges until the first issuance.
        assert.ok(stdinOf(await run("acmeRhel"), "mailhost-tls-certificate").includes("# Keep any certificate for this name"));
    });

    test("a private ACME CA: its bundle for certbot and for the renewal service; AWS opens port 80", async () => {
        const r = await run("acmeAws");
        const script = stdinOf(r, ACME_STEP);
        assert.ok(script.includes("--server 'https://acme.internal.example/directory'"));
        assert.ok(script.includes("\nexport REQUESTS_CA_BUNDLE=/etc/mailhost/acme-ca.pem\n"));
        assert.ok(script.includes("\nmh_put /etc/systemd/system/certbot-renew.service.d/mailhost.conf 0644 root:root <<'"));
        const sg = resource(r, "mailhost-sg").inputs as { ingress: Record<string, unknown>[] };
        assert.ok(sg.ingress.some((i) => i.fromPort === 80 && i.toPort === 80 && i.protocol === "tcp"));
    });

    test("without it: no ACME step, no certbot, port 80 closed", async () => {
        const r = await run("dev");
        assert.ok(!r.resources.some((x) => x.name === ACME_STEP));
        assert.ok(!stdinOf(r, "mailhost-host-packages").includes("certbot"));
        assert.ok(!stdinOf(r, "mailhost-firewall-rules").includes("'http'"));
        const sg = resource(await run("awsA"), "mailhost-sg").inputs as { ingress: Record<string, unknown>[] };
        assert.ok(!sg.ingress.some((i) => i.fromPort === 80));
    });
});

describe("every generated script", () => {
    test("covers both targets, both OSes, the delete scripts and every option", async () => {
        const keys = [...(await allScripts()).keys()];
        for (const n of DEPLOYS) assert.ok(keys.some((k) => k.startsWith(`${n}: `)), n);
        assert.ok(keys.some((k) => k.endsWith("delete script")));
        assert.ok(keys.some((k) => k.includes("mailhost-user-wang_li-account")));
    });

    test("passes bash -n without warnings", async (t) => {
        for (const [key, { script, todo }] of await allScripts()) {
            await t.test(key, { todo }, () => {
                const r = bashSyntax(script);
                assert.equal(r.stderr, "");
                assert.equal(r.status, 0);
            });
        }
    });

    test("every delete command is itself valid and carries exactly the rendered delete script", async () => {
        for (const n of DEPLOYS) {
            for (const c of commands(await run(n)).filter((x): x is RegisteredResource & { inputs: { delete: string } } => typeof x.inputs.delete === "string")) {
                assert.equal(bashSyntax(c.inputs.delete).stderr, "");
                if (c.name === FAIL2BAN_COMMAND) {
                    assert.equal(innerScriptOfDelete(c.inputs.delete), renderFail2banDeleteScript(), `${n}: ${c.name}`);
                    continue;
                }
                const user = c.name.replace(/^mailhost-user-/, "").replace(/-account$/, "");
                const purge = user === "wang_li";
                assert.equal(innerScriptOfDelete(c.inputs.delete), renderMailUserDeleteScript(user, "linuxprobe.com", purge), `${n}: ${c.name}`);
            }
        }
    });

    const shellcheck = shellcheckPath();
    test("passes shellcheck -s bash", { skip: shellcheck ? false : "shellcheck is not installed (CI installs it): skipped" }, async (t) => {
        const scripts = await allScripts();
        const report = shellcheckAll(shellcheck!, new Map([...scripts].map(([k, v]) => [k, v.script])));
        for (const [key, { todo }] of scripts) {
            await t.test(key, { todo }, () => {
                const comments = report.get(key) ?? [];
                assert.deepEqual(comments.map((c) => `line ${c.line}: SC${c.code} (${c.level}) ${c.message}`), []);
            });
        }
    });
});
