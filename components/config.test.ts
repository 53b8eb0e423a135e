import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ProgramRun, runProgram } from "../test/harness/program";
import {
    awsConfig,
    chapterConfig,
    configValues,
    leaks,
    parse,
    PASSWORD1,
    SSH_PRIVATE_KEY,
    SSH_PUBLIC_KEY,
    StackConfig,
    TLS_CERTIFICATE,
    TLS_PRIVATE_KEY,
} from "../test/unit/fixtures";
import { ConfigError, parseConfig, RESERVED_NAMES } from "./config";

/** The ConfigError that parsing `cfg` raises (fails the test when it parses). */
function configError(cfg: StackConfig, secretKeys?: string[]): ConfigError {
    try {
        parse(cfg, secretKeys);
    } catch (e) {
        if (e instanceof ConfigError) return e;
        throw e;
    }
    assert.fail(`expected a ConfigError for ${JSON.stringify(cfg).slice(0, 300)}`);
}

function withUsers(...users: Record<string, unknown>[]): StackConfig {
    return { ...chapterConfig(), users };
}
const user = (name: string, extra: Record<string, unknown> = {}) => ({ name, password: PASSWORD1, ...extra });
const records = (...extraRecords: Record<string, unknown>[]): StackConfig => ({ ...chapterConfig(), dns: { extraRecords } });

interface BadCase {
    what: string;
    cfg: () => StackConfig;
    /** The key the message must name, after `mailhost:` (as `pulumi config` spells it). */
    key: string;
    /** Keys set with --secret (default: the secret keys present). */
    secretKeys?: string[];
    /** A non-secret bad value the message should show. */
    shows?: string;
    /** Secret values that must not appear in the message. */
    secrets?: string[];
    /** More text the message must contain. */
    says?: RegExp;
}

const SHORT_PASSWORD = "Kx9#qZw";
const MULTILINE_PASSWORD = "CANARYPW1-first\nsecond line";
const BAD_SSH_KEY = "CANARYSSHKEY-this-is-not-a-key";
const BAD_TLS_KEY = "CANARYTLSKEY-this-is-not-a-pem";

const BAD: BadCase[] = [
    // Names.
    { what: "domain with an underscore", cfg: () => ({ ...chapterConfig(), domain: "linux_probe.com" }), key: "domain", shows: "linux_probe.com" },
    { what: "domain with one label", cfg: () => ({ ...chapterConfig(), domain: "localhost", hostname: "mail.localhost" }), key: "domain", shows: "localhost" },
    { what: "hostname with an empty label", cfg: () => ({ ...chapterConfig(), hostname: "mail..linuxprobe.com" }), key: "hostname", shows: "mail..linuxprobe.com" },
    { what: "hostname outside the domain", cfg: () => ({ ...chapterConfig(), hostname: "mail.example.org" }), key: "hostname", shows: "mail.example.org", says: /inside/ },
    // Users.
    { what: "user name with upper case and a space", cfg: () => withUsers(user("Liu Chuan")), key: "users[0].name", shows: "Liu Chuan" },
    { what: "user name starting with a digit", cfg: () => withUsers(user("1liuchuan")), key: "users[0].name", shows: "1liuchuan" },
    { what: "user name longer than 32 characters", cfg: () => withUsers(user("a".repeat(33))), key: "users[0].name" },
    { what: "user root", cfg: () => withUsers(user("root")), key: "users[0].name", shows: "root", says: /system account/ },
    { what: "user bin", cfg: () => withUsers(user("bin")), key: "users[0].name", shows: "bin", says: /system account/ },
    { what: "user postfix", cfg: () => withUsers(user("liuchuan"), user("postfix")), key: "users[1].name", shows: "postfix", says: /system account/ },
    { what: "user dovecot", cfg: () => withUsers(user("dovecot")), key: "users[0].name", shows: "dovecot", says: /system account/ },
    { what: "user named", cfg: () => withUsers(user("named")), key: "users[0].name", shows: "named", says: /system account/ },
    { what: "user systemd-*", cfg: () => withUsers(user("systemd-foo")), key: "users[0].name", shows: "systemd-foo", says: /system account/ },
    { what: "duplicate user", cfg: () => withUsers(user("liuchuan"), user("wang"), user("liuchuan")), key: "users[2].name", shows: "liuchuan", says: /twice/ },
    // Aliases.
    { what: "alias loop of two", cfg: () => ({ ...chapterConfig(), aliases: { a: "b", b: "a" } }), key: "aliases", says: /loop: a -> b -> a/ },
    { what: "alias loop of three", cfg: () => ({ ...chapterConfig(), aliases: { sales: "info", info: "team", team: "sales", dream: "root" } }), key: "aliases", says: /loop/ },
    { what: "alias to itself", cfg: () => ({ ...chapterConfig(), aliases: { dream: "dream" } }), key: "aliases", says: /loop: dream -> dream/ },
    { what: "alias pointing nowhere", cfg: () => ({ ...chapterConfig(), aliases: { dream: "nobodyhere" } }), key: "aliases.dream", shows: "nobodyhere" },
    { what: "alias pointing nowhere among good targets", cfg: () => ({ ...chapterConfig(), aliases: { dream: ["root", "liuchuan", "ghost"] } }), key: "aliases.dream", shows: "ghost" },
    { what: "alias target that is neither a name nor an address", cfg: () => ({ ...chapterConfig(), aliases: { dream: "Not Valid" } }), key: "aliases.dream", shows: "Not Valid" },
    { what: "alias with a user's name", cfg: () => ({ ...chapterConfig(), aliases: { liuchuan: "root" } }), key: "aliases.liuchuan" },
    { what: "alias root", cfg: () => ({ ...chapterConfig(), aliases: { root: "liuchuan" } }), key: "aliases.root" },
    // Networks.
    { what: "trusted network with a /33 prefix", cfg: () => ({ ...chapterConfig(), trustedNetworks: ["192.168.10.0/33"] }), key: "trustedNetworks[0]", shows: "192.168.10.0/33" },
    { what: "trusted network without a prefix", cfg: () => ({ ...chapterConfig(), trustedNetworks: ["192.168.10.0/24", "10.0.0.1"] }), key: "trustedNetworks[1]", shows: "10.0.0.1" },
    { what: "trusted network with an octet above 255", cfg: () => ({ ...chapterConfig(), trustedNetworks: ["192.168.300.0/24"] }), key: "trustedNetworks[0]", shows: "192.168.300.0/24" },
    { what: "client network that is not a CIDR", cfg: () => ({ ...chapterConfig(), clientCidrs: ["office"] }), key: "clientCidrs[0]", shows: "office" },
    { what: "empty client networks", cfg: () => ({ ...chapterConfig(), clientCidrs: [] }), key: "clientCidrs" },
    { what: "admin network that is not a CIDR", cfg: () => awsConfig({ adminCidrs: ["203.0.113.7"] }), key: "aws.adminCidrs[0]", shows: "203.0.113.7" },
    { what: "no admin network", cfg: () => awsConfig({ adminCidrs: [] }), key: "aws.adminCidrs" },
    // Secrets.
    { what: "missing password", cfg: () => withUsers({ name: "liuchuan" }), key: "users[0].password", says: /--secret/ },
    { what: "password too short", cfg: () => withUsers(user("liuchuan", { password: SHORT_PASSWORD })), key: "users[0].password", secrets: [SHORT_PASSWORD] },
    { what: "password with a line break", cfg: () => withUsers(user("liuchuan", { password: MULTILINE_PASSWORD })), key: "users[0].password", secrets: [MULTILINE_PASSWORD] },
    { what: "missing sshPrivateKey", cfg: () => { const { sshPrivateKey: _k, ...c } = chapterConfig(); void _k; return c; }, key: "sshPrivateKey", says: /--secret/ },
    { what: "sshPrivateKey that is not a key", cfg: () => ({ ...chapterConfig(), sshPrivateKey: BAD_SSH_KEY }), key: "sshPrivateKey", secrets: [BAD_SSH_KEY] },
    { what: "TLS private key that is not PEM", cfg: () => ({ ...chapterConfig(), tls: { certificate: TLS_CERTIFICATE, privateKey: BAD_TLS_KEY } }), key: "tls.privateKey", secrets: [BAD_TLS_KEY] },
    { what: "password stored in plain text", cfg: () => chapterConfig(), secretKeys: ["sshPrivateKey"], key: "users", secrets: [PASSWORD1], says: /plain text/ },
    { what: "sshPrivateKey stored in plain text", cfg: () => chapterConfig(), secretKeys: ["users"], key: "sshPrivateKey", secrets: [SSH_PRIVATE_KEY], says: /plain text/ },
    { what: "TLS key stored in plain text", cfg: () => ({ ...chapterConfig(), tls: { certificate: TLS_CERTIFICATE, privateKey: TLS_PRIVATE_KEY } }), secretKeys: ["users", "sshPrivateKey"], key: "tls", secrets: [TLS_PRIVATE_KEY], says: /plain text/ },
    { what: "misspelt key inside a user, next to a password", cfg: () => withUsers({ name: "liuchuan", pasword: PASSWORD1 }), key: "users[0].pasword", secrets: [PASSWORD1] },
    // Unknown keys.
    { what: "misspelt top-level key", cfg: () => ({ ...chapterConfig(), domian: "linuxprobe.com" }), key: "domian", says: /did you mean mailhost:domain\?/ },
    { what: "misspelt plural key", cfg: () => ({ ...chapterConfig(), trustedNetwork: ["192.168.10.0/24"] }), key: "trustedNetwork", says: /did you mean mailhost:trustedNetworks\?/ },
    { what: "unknown key", cfg: () => ({ ...chapterConfig(), spamFilter: "on" }), key: "spamFilter", says: /is not a mailhost setting/ },
    { what: "misspelt key inside ssh", cfg: () => ({ ...chapterConfig(), ssh: { host: "192.168.10.10", usr: "root" } }), key: "ssh.usr" },
    // Targets.
    { what: "unknown target", cfg: () => ({ ...chapterConfig(), target: "gcp" }), key: "target", shows: "gcp" },
    { what: "unknown os", cfg: () => ({ ...chapterConfig(), os: "centos7" }), key: "os", shows: "centos7" },
    { what: "target aws with debian12", cfg: () => ({ ...awsConfig(), os: "debian12" }), key: "os", says: /rhel8/ },
    { what: "target aws without aws", cfg: () => { const { aws: _a, ...c } = awsConfig(); void _a; return c; }, key: "aws" },
    { what: "target aws with ssh", cfg: () => ({ ...awsConfig(), ssh: { host: "192.168.10.10" } }), key: "ssh" },
    { what: "target aws with publicIp", cfg: () => ({ ...awsConfig(), publicIp: "192.168.10.10" }), key: "publicIp" },
    { what: "target ssh without ssh", cfg: () => { const { ssh: _s, ...c } = chapterConfig(); void _s; return c; }, key: "ssh" },
    { what: "target ssh with aws", cfg: () => ({ ...chapterConfig(), aws: { sshPublicKey: SSH_PUBLIC_KEY, adminCidrs: ["203.0.113.7/32"] } }), key: "aws" },
    { what: "ssh host given by name without publicIp", cfg: () => ({ ...chapterConfig(), ssh: { host: "mail.example.net" } }), key: "publicIp", shows: "mail.example.net" },
    { what: "ssh port out of range", cfg: () => ({ ...chapterConfig(), ssh: { host: "192.168.10.10", port: 70000 } }), key: "ssh.port", shows: "70000" },
    { what: "ssh user that is not a login name", cfg: () => ({ ...chapterConfig(), ssh: { host: "192.168.10.10", user: "root; rm -rf /" } }), key: "ssh.user", shows: "root; rm -rf /" },
    { what: "ssh that is not structured", cfg: () => ({ ...chapterConfig(), ssh: "192.168.10.10:22" }), key: "ssh", shows: "192.168.10.10:22" },
    { what: "AWS public key that is not an OpenSSH key", cfg: () => awsConfig({ sshPublicKey: "AAAAC3Nz" }), key: "aws.sshPublicKey", shows: "AAAAC3Nz" },
    { what: "AWS region that is not one", cfg: () => awsConfig({ region: "frankfurt" }), key: "aws.region", shows: "frankfurt" },
    { what: "public IP that is not IPv4", cfg: () => ({ ...chapterConfig(), publicIp: "192.168.10" }), key: "publicIp", shows: "192.168.10" },
    // Extra DNS records.
    { what: "A record with a bad address", cfg: () => records({ name: "www", type: "A", value: "192.168.10" }), key: "dns.extraRecords[0].value", shows: "192.168.10" },
    { what: "AAAA record with an IPv4 address", cfg: () => records({ name: "www", type: "AAAA", value: "192.168.10.20" }), key: "dns.extraRecords[0].value", shows: "192.168.10.20" },
    { what: "MX record without a priority", cfg: () => records({ name: "@", type: "MX", value: "backup.linuxprobe.com." }), key: "dns.extraRecords[0].value", shows: "backup.linuxprobe.com." },
    { what: "record of an unknown type", cfg: () => records({ name: "www", type: "SPF", value: "v=spf1 -all" }), key: "dns.extraRecords[0].type", shows: "SPF" },
    { what: "record with a bad name", cfg: () => records({ name: "bad name", type: "A", value: "192.168.10.20" }), key: "dns.extraRecords[0].name", shows: "bad name" },
    { what: "record replacing the host's A record", cfg: () => records({ name: "www", type: "A", value: "192.168.10.20" }, { name: "mail", type: "A", value: "192.168.10.99" }), key: "dns.extraRecords[1]" },
    { what: "record replacing the name server", cfg: () => records({ name: "ns", type: "CNAME", value: "other.example.org." }), key: "dns.extraRecords[0]" },
    { what: "TXT record with quotes", cfg: () => records({ name: "@", type: "TXT", value: 'v=spf1 "mx"' }), key: "dns.extraRecords[0].value" },
    { what: "record value on two lines", cfg: () => records({ name: "@", type: "TXT", value: "one\ntwo" }), key: "dns.extraRecords[0].value" },
    { what: "record with an unknown field", cfg: () => records({ name: "www", type: "A", value: "192.168.10.20", ttl: 60 }), key: "dns.extraRecords[0].ttl" },
    // Settings.
    { what: "multi-line Postfix setting", cfg: () => ({ ...chapterConfig(), postfixSettings: { smtpd_banner: "hi\nrelayhost = [evil.example]" } }), key: "postfixSettings.smtpd_banner" },
    { what: "multi-line Dovecot setting", cfg: () => ({ ...chapterConfig(), dovecotSettings: { mail_debug: "yes\nssl = no" } }), key: "dovecotSettings.mail_debug" },
    { what: "Postfix setting name with upper case", cfg: () => ({ ...chapterConfig(), postfixSettings: { "Bad-Name": "x" } }), key: "postfixSettings.Bad-Name" },
    { what: "alias name with a space", cfg: () => ({ ...chapterConfig(), aliases: { "Bad Alias": "root" } }), key: "aliases.Bad Alias" },
    { what: "unknown DMARC policy", cfg: () => ({ ...chapterConfig(), dmarcPolicy: "strict" }), key: "dmarcPolicy", shows: "strict" },
    { what: "fail2ban switched on with true", cfg: () => ({ ...chapterConfig(), fail2ban: true }), key: "fail2ban" },
    { what: "fail2ban ban shorter than a minute", cfg: () => ({ ...chapterConfig(), fail2ban: { banTime: 5 } }), key: "fail2ban.banTime" },
    { what: "fail2ban option misspelt", cfg: () => ({ ...chapterConfig(), fail2ban: { maxRetries: 3 } }), key: "fail2ban.maxRetries", says: /did you mean mailhost:fail2ban\.maxRetry\?/ },
    // ACME.
    { what: "ACME without an e-mail address", cfg: () => ({ ...chapterConfig(), acme: {} }), key: "acme.email" },
    { what: "ACME e-mail that is no address", cfg: () => ({ ...chapterConfig(), acme: { email: "postmaster" } }), key: "acme.email", shows: "postmaster" },
    { what: "ACME server over plain http", cfg: () => ({ ...chapterConfig(), acme: { email: "a@linuxprobe.com", server: "http://ca.example/dir" } }), key: "acme.server", shows: "http://ca.example/dir" },
    { what: "ACME server URL with a quote", cfg: () => ({ ...chapterConfig(), acme: { email: "a@linuxprobe.com", server: "https://ca.example/d'ir" } }), key: "acme.server" },
    { what: "ACME CA bundle that is no PEM", cfg: () => ({ ...chapterConfig(), acme: { email: "a@linuxprobe.com", caBundle: "not a certificate" } }), key: "acme.caBundle" },
    { what: "ACME option misspelt", cfg: () => ({ ...chapterConfig(), acme: { email: "a@linuxprobe.com", sever: "https://ca.example/dir" } }), key: "acme.sever", says: /did you mean mailhost:acme\.server\?/ },
    {
        what: "ACME and a provided certificate at once",
        cfg: () => ({ ...chapterConfig(), acme: { email: "a@linuxprobe.com" }, tls: { certificate: TLS_CERTIFICATE, privateKey: TLS_PRIVATE_KEY } }),
        key: "acme",
        says: /mailhost:tls are both set/,
    },
];

/** `mailhost:key` as Pulumi spells it, or `mailhost.key` as the package spells it today. */
function namesKeyLoosely(message: string, key: string): boolean {
    return message.includes(`mailhost:${key}`) || message.includes(`mailhost.${key}`);
}

describe("parseConfig: the chapter's config", () => {
    test("Pulumi.dev.yaml with its secrets is valid and typed as the components need it", async () => {
        const c = parse(chapterConfig());
        assert.equal(c.domain, "linuxprobe.com");
        assert.equal(c.hostname, "mail.linuxprobe.com");
        assert.equal(c.target, "ssh");
        assert.equal(c.os, "rhel8");
        assert.deepEqual(c.ssh, { host: "192.168.10.10", port: 22, user: "root" });
        assert.equal(c.publicIp, "192.168.10.10");
        assert.deepEqual(c.aliases, [["dream", ["root"]]]);
        assert.deepEqual(c.trustedNetworks, ["192.168.10.0/24"]);
        assert.deepEqual(c.users.map((u) => [u.name, u.purgeOnDelete]), [["liuchuan", false]]);
        assert.equal(await pulumi.isSecret(c.users[0].password), true);
        assert.equal(await pulumi.isSecret(c.sshPrivateKey), true);
        assert.equal(await new Promise((resolve) => pulumi.unsecret(c.users[0].password).apply(resolve)), PASSWORD1);
        assert.equal(c.allowPlaintextAuth, false);
        assert.equal(c.dmarcPolicy, "quarantine");
    });

    test("defaults: hostname mail.<domain>, target aws, rhel8, t3.small, no reverse DNS", () => {
        const { hostname: _h, target: _t, os: _o, ...rest } = awsConfig();
        void [_h, _t, _o];
        const c = parse(rest);
        assert.equal(c.hostname, "mail.linuxprobe.com");
        assert.equal(c.target, "aws");
        assert.equal(c.os, "rhel8");
        assert.equal(c.aws?.instanceType, "t3.small");
        assert.equal(c.aws?.reverseDns, false);
        assert.equal(c.publicIp, undefined);
    });

    test("ssh defaults to port 22 as root; names are lower-cased", () => {
        const c = parse({ ...chapterConfig(), domain: "LinuxProbe.COM", hostname: "Mail.LinuxProbe.com", ssh: { host: "192.168.10.10" } });
        assert.deepEqual(c.ssh, { host: "192.168.10.10", port: 22, user: "root" });
        assert.equal(c.domain, "linuxprobe.com");
        assert.equal(c.hostname, "mail.linuxprobe.com");
    });

    test("aliases and settings are sorted, so the rendered files do not depend on key order", () => {
        const a = parse({ ...chapterConfig(), aliases: { dream: "root", abuse2: "root" }, postfixSettings: { z_b: "1", a_b: "2" } });
        const b = parse({ ...chapterConfig(), aliases: { abuse2: "root", dream: "root" }, postfixSettings: { a_b: "2", z_b: "1" } });
        assert.deepEqual(a.aliases, [["abuse2", ["root"]], ["dream", ["root"]]]);
        assert.deepEqual(a.aliases, b.aliases);
        assert.deepEqual(a.postfixSettings, [["a_b", "2"], ["z_b", "1"]]);
        assert.deepEqual(a.postfixSettings, b.postfixSettings);
    });

    test("a stack without users needs no secret besides the SSH key", () => {
        const c = parse({ ...chapterConfig(), users: [], aliases: {} }, ["sshPrivateKey"]);
        assert.deepEqual(c.users, []);
    });

    test("fail2ban: on by default (5 failures in 10 minutes ban for an hour), tunable, or false", () => {
        assert.deepEqual(parse(chapterConfig()).fail2ban, { maxRetry: 5, findTime: 600, banTime: 3600 });
        assert.deepEqual(parse({ ...chapterConfig(), fail2ban: { maxRetry: 3 } }).fail2ban, { maxRetry: 3, findTime: 600, banTime: 3600 });
        assert.equal(parse({ ...chapterConfig(), fail2ban: false }).fail2ban, false);
    });

    test("acme: Let's Encrypt by default; a private CA with its bundle", () => {
        assert.equal(parse({ ...chapterConfig(), acme: { email: "postmaster@linuxprobe.com" } }).acme?.server, "https://acme-v02.api.letsencrypt.org/directory");
        const own = parse({ ...chapterConfig(), acme: { email: "postmaster@linuxprobe.com", server: "https://ca.internal.example:14000/dir", caBundle: TLS_CERTIFICATE } }).acme;
        assert.deepEqual(own, { email: "postmaster@linuxprobe.com", server: "https://ca.internal.example:14000/dir", caBundle: TLS_CERTIFICATE });
    });

    test("aliases may point to users, other aliases, root and outside addresses", () => {
        const c = parse({ ...chapterConfig(), aliases: { dream: "root", info: ["liuchuan", "dream"], partner: "someone@example.org" } });
        assert.deepEqual(c.aliases, [["dream", ["root"]], ["info", ["liuchuan", "dream"]], ["partner", ["someone@example.org"]]]);
    });
});

describe("parseConfig: bad input stops with one ConfigError naming the key", () => {
    for (const c of BAD) {
        test(c.what, () => {
            const e = configError(c.cfg(), c.secretKeys);
            assert.ok(e instanceof pulumi.RunError, "a RunError, printed by Pulumi without a stack trace");
            assert.ok(e.problems.length >= 1);
            assert.ok(namesKeyLoosely(e.message, c.key), `the message should name mailhost:${c.key}:\n${e.message}`);
            assert.deepEqual(leaks(e.message), [], `a secret leaked into the message:\n${e.message}`);
            for (const s of c.secrets ?? []) assert.ok(!e.message.includes(s), `the secret value leaked into the message:\n${e.message}`);
            if (c.says) assert.match(e.message, c.says);
        });
    }

    test("every problem of the config is reported at once", () => {
        const e = configError({ ...chapterConfig(), domain: "linux_probe.com", trustedNetworks: ["192.168.10.0/33"], os: "centos7" });
        assert.equal(e.problems.length, 3, e.message);
    });

    test("every name of a system account is refused as a mail user", () => {
        const names = new Set([...RESERVED_NAMES, "named", "bind", "postfix", "postdrop", "dovecot", "dovenull", "mail", "mailnull", "smmsp", "opendkim", "nobody", "sshd", "ec2-user", "mailer-daemon"]);
        for (const name of names) {
            assert.throws(() => parse(withUsers(user(name))), ConfigError, `user ${name} was accepted`);
        }
    });

    test("a password with quotes, $(), backticks, spaces and non-ASCII is accepted as is", async () => {
        const c = parse(withUsers(user("liuchuan")));
        assert.equal(await new Promise((resolve) => pulumi.unsecret(c.users[0].password).apply(resolve)), PASSWORD1);
    });

    test(
        "messages name keys as `pulumi config` spells them: mailhost:<key>",
        () => {
            const wrong = BAD.filter((c) => !configError(c.cfg(), c.secretKeys).message.includes(`mailhost:${c.key}`)).map((c) => c.what);
            assert.deepEqual(wrong, []);
        },
    );

    test(
        "messages show the bad value of a non-secret key",
        () => {
            const missing = BAD.filter((c) => c.shows !== undefined && !configError(c.cfg(), c.secretKeys).message.includes(c.shows)).map((c) => c.what);
            assert.deepEqual(missing, []);
        },
    );

    test(
        "a bad setting or alias name says what names are allowed",
        () => {
            assert.match(configError({ ...chapterConfig(), postfixSettings: { "Bad-Name": "x" } }).message, /lowercase/);
            assert.match(configError({ ...chapterConfig(), aliases: { "Bad Alias": "root" } }).message, /lowercase/);
        },
    );

    test(
        "an alias may point to postmaster, which every host has (RFC 5321) and /etc/aliases of both distributions defines",
        () => {
            assert.deepEqual(parse({ ...chapterConfig(), aliases: { dream: "root", help: "postmaster" } }).aliases, [["dream", ["root"]], ["help", ["postmaster"]]]);
        },
    );

    test(
        "a misspelt nested key gets a suggestion too",
        () => {
            assert.match(configError({ ...chapterConfig(), ssh: { host: "192.168.10.10", usr: "root" } }).message, /did you mean mailhost:ssh\.user\?/);
        },
    );
});

describe("parseConfig: secrets never appear in a message", () => {
    test("not when a user entry is not an object", () => {
        const e = configError({ ...chapterConfig(), users: [`liuchuan:${PASSWORD1}`] });
        assert.deepEqual(leaks(e.message), [], e.message);
    });

    test("not when users is an object instead of a list", () => {
        const e = configError({ ...chapterConfig(), users: { name: "liuchuan", password: PASSWORD1 } });
        assert.deepEqual(leaks(e.message), [], e.message);
    });

    test("not when tls is not an object", () => {
        const e = configError({ ...chapterConfig(), tls: [TLS_CERTIFICATE, TLS_PRIVATE_KEY] });
        assert.deepEqual(leaks(e.message), [], e.message);
    });

    test(
        "not when a secret key holds text that is not structured",
        () => {
            const values = configValues(chapterConfig());
            const users = parseConfigError({ ...values, users: `liuchuan: ${PASSWORD1}` });
            assert.deepEqual(leaks(users), [], users);
            const tls = parseConfigError({ ...values, tls: TLS_PRIVATE_KEY });
            assert.deepEqual(leaks(tls), [], tls);
        },
    );
});

/** The message of the ConfigError for raw config values (all secret keys marked secret). */
function parseConfigError(values: Record<string, string>): string {
    try {
        parseConfig(values, new Set(["users", "sshPrivateKey", "tls"]));
    } catch (e) {
        if (e instanceof ConfigError) return e.message;
        throw e;
    }
    return assert.fail("expected a ConfigError");
}

describe("the program with bad config (harness)", () => {
    let badDomain: ProgramRun;
    let plainSecrets: ProgramRun;
    let awsDebian: ProgramRun;
    before(async () => {
        [badDomain, plainSecrets, awsDebian] = await Promise.all([
            runProgram({ ...chapterConfig(), domain: "linux_probe.com" }, ["users", "sshPrivateKey"], "dev"),
            runProgram(chapterConfig(), [], "dev"),
            runProgram({ ...awsConfig(), os: "debian12" }, ["users", "sshPrivateKey"], "dev"),
        ]);
    });

    test("stops before registering any resource", () => {
        for (const run of [badDomain, plainSecrets, awsDebian]) {
            assert.ok(run.error, "the run should fail");
            assert.deepEqual(run.resources, []);
            assert.deepEqual(run.urns ?? [], []);
            assert.deepEqual(run.outputs, {});
        }
    });

    test("fails with the ConfigError's message", () => {
        assert.match(badDomain.error!, /invalid stack config/);
        assert.ok(namesKeyLoosely(badDomain.error!, "domain"), badDomain.error);
        assert.ok(plainSecrets.error!.includes("mailhost:sshPrivateKey holds a secret stored in plain text"), plainSecrets.error);
        assert.ok(plainSecrets.error!.includes("mailhost:users holds a secret stored in plain text"), plainSecrets.error);
        assert.ok(awsDebian.error!.includes("mailhost:os must be rhel8 for target aws"), awsDebian.error);
    });

    test("never prints a secret", () => {
        for (const run of [badDomain, plainSecrets, awsDebian]) assert.deepEqual(leaks(run.error ?? ""), [], run.error);
    });
});
