/**
 * The stack config: its schema, its validation, and the typed `MailConfig` the
 * components are built from.
 *
 * Everything is checked here, before any resource is registered. A bad value stops
 * the program with one `ConfigError` that names each bad key, the bad value (never a
 * secret's) and what is allowed.
 */
import * as pulumi from "@pulumi/pulumi";
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import { OS_NAMES, OsName } from "./platform";

/** The config namespace: keys are `mailhost:<key>`. */
export const NAMESPACE = "mailhost";

/** Raised for invalid stack config; printed by Pulumi without a stack trace. */
export class ConfigError extends pulumi.RunError {
    constructor(public readonly problems: string[]) {
        super(`invalid stack config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

// ---------------------------------------------------------------- value rules

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DOMAIN_RE = new RegExp(`^(?:${LABEL}\\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`);
const LOGIN_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
const LOCAL_PART_RE = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
const ADDRESS_RE = new RegExp(`^[A-Za-z0-9._%+-]{1,64}@(?:${LABEL}\\.)+[a-z]{2,63}$`);
const SETTING_NAME_RE = /^[a-z][a-z0-9_]{0,99}$/;
// Printable text without line breaks: what a single config line can hold.
const ONE_LINE_RE = /^[^\u0000-\u001f\u007f]*$/;

/**
 * Accounts that exist on RHEL or Debian hosts (or that mail relies on): a mail user of
 * that name would take over a system account or its mail.
 */
export const RESERVED_NAMES = new Set([
    "root", "bin", "daemon", "adm", "lp", "sync", "shutdown", "halt", "mail", "news", "uucp",
    "operator", "games", "gopher", "ftp", "nobody", "sys", "man", "proxy", "www-data", "backup",
    "list", "irc", "gnats", "sshd", "dbus", "polkitd", "chrony", "tss", "rpc", "rpcuser", "tcpdump",
    "named", "bind", "postfix", "postdrop", "dovecot", "dovenull", "mailnull", "smmsp", "opendkim",
    "postmaster", "abuse", "hostmaster", "webmaster", "mailer-daemon", "messagebus", "_apt",
    "unbound", "nscd", "ssl-cert", "ec2-user", "cloud-user", "systemd-network", "systemd-resolve",
    "systemd-timesync", "systemd-coredump", "systemd-oom", "clamav", "amavis",
]);

/** Local recipients every supported distribution has. */
const SYSTEM_RECIPIENTS = new Set(["root", "postmaster"]);

function isIpv4(value: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(value);
}

function isCidr(value: string): boolean {
    try {
        ipaddr.parseCIDR(value);
        return true;
    } catch {
        return false;
    }
}

const domainName = z
    .string()
    .transform((v) => v.toLowerCase())
    .refine((v) => v.length <= 253 && DOMAIN_RE.test(v), {
        message: "must be a DNS name such as example.com (letters, digits and '-', at least two labels)",
    });

const cidr = z.string().refine(isCidr, {
    message: "must be an IPv4 or IPv6 network in CIDR form, e.g. 192.168.10.0/24",
});

const oneLine = (what: string) =>
    z.string().regex(ONE_LINE_RE, { message: `${what} must be one line of printable text` });

const settingValue = z
    .union([z.string(), z.number(), z.boolean()])
    .transform((v) => (typeof v === "boolean" ? (v ? "yes" : "no") : String(v)))
    .refine((v) => ONE_LINE_RE.test(v), { message: "must be one line of printable text" });

const settings = z
    .record(z.string().regex(SETTING_NAME_RE, { message: "setting names are lowercase letters, digits and '_'" }), settingValue)
    .default({});

const password = z
    .string({ message: "is missing: set it with `pulumi config set --secret --path 'users[N].password'`" })
    .min(8, { message: "must have at least 8 characters" })
    .max(1024, { message: "must have at most 1024 characters" })
    .refine((v) => ONE_LINE_RE.test(v), { message: "must not contain control characters or line breaks" });

const userSchema = z.strictObject({
    name: z.string().regex(LOGIN_RE, {
        message: "must be a login name: 1-32 lowercase letters, digits, '_' or '-', starting with a letter or '_'",
    }),
    password,
    purgeOnDelete: z.boolean().default(false),
});

const recordTypes = ["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS"] as const;

const dnsRecordSchema = z
    .strictObject({
        name: z.string().regex(/^(@|\*|(\*\.)?[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*)$/i, {
            message: "must be '@' or a name relative to the domain, e.g. www or _dmarc",
        }),
        type: z.enum(recordTypes),
        value: oneLine("a record value").min(1),
    })
    .superRefine((r, ctx) => {
        const bad = (message: string) => ctx.addIssue({ code: "custom", path: ["value"], message });
        const host = (v: string) => /^[a-z0-9._-]+\.?$/i.test(v);
        switch (r.type) {
            case "A":
                if (!isIpv4(r.value)) bad("an A record's value must be an IPv4 address");
                break;
            case "AAAA":
                if (!ipaddr.IPv6.isValid(r.value) || r.value.includes(".")) bad("an AAAA record's value must be an IPv6 address");
                break;
            case "CNAME":
            case "NS":
                if (!host(r.value)) bad(`a ${r.type} record's value must be a host name`);
                break;
            case "MX":
                if (!/^\d{1,5} [a-z0-9._-]+\.?$/i.test(r.value)) bad("an MX record's value must be 'PRIORITY HOST', e.g. '20 backup.example.com.'");
                break;
            case "SRV":
                if (!/^\d{1,5} \d{1,5} \d{1,5} [a-z0-9._-]+\.?$/i.test(r.value)) bad("an SRV record's value must be 'PRIORITY WEIGHT PORT TARGET'");
                break;
            case "CAA":
                if (!/^\d{1,3} [a-z0-9]+ "[^"]*"$/i.test(r.value)) bad(`a CAA record's value must be 'FLAGS TAG "VALUE"'`);
                break;
            case "TXT":
                if (r.value.includes('"') || r.value.includes("\\")) bad("a TXT record's value is written without quotes or backslashes (mailhost quotes and splits it)");
                break;
        }
    });

const awsSchema = z.strictObject({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: "must be an AWS region such as eu-central-1" }).optional(),
    instanceType: z.string().regex(/^[a-z0-9-]+\.[a-z0-9]+$/, { message: "must be an EC2 instance type such as t3.small" }).default("t3.small"),
    subnetId: z.string().regex(/^subnet-[0-9a-f]+$/, { message: "must be a subnet id such as subnet-0abc123" }).optional(),
    sshPublicKey: z
        .string({ message: "is required: the public half of sshPrivateKey, e.g. 'ssh-ed25519 AAAA... admin'" })
        .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( [^\n]*)?$/, {
            message: "must be an OpenSSH public key line such as 'ssh-ed25519 AAAA... admin'",
        }),
    adminCidrs: z.array(cidr).min(1, { message: "must list at least one network allowed to reach SSH, e.g. [203.0.113.7/32]" }),
    reverseDns: z.boolean().default(false),
});

const sshSchema = z.strictObject({
    host: z.string().refine((v) => isIpv4(v) || ipaddr.IPv6.isValid(v) || DOMAIN_RE.test(v.toLowerCase()), {
        message: "must be an IP address or a DNS name",
    }),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().regex(LOGIN_RE, { message: "must be a login name" }).default("root"),
});

const tlsSchema = z.strictObject({
    certificate: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "must be a PEM certificate (full chain)" }),
    privateKey: z.string().regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, { message: "must be a PEM private key" }),
});

/** Let's Encrypt's production directory: the default ACME server. */
export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";

const acmeSchema = z.strictObject({
    email: z.string().regex(ADDRESS_RE, { message: "must be an e-mail address (the CA writes to it about expiring certificates)" }),
    server: z
        .string()
        .refine((v) => URL.canParse(v) && new URL(v).protocol === "https:" && !/[\s'"\\`$]/.test(v), { message: "must be the https:// URL of an ACME directory" })
        .default(LETS_ENCRYPT_DIRECTORY),
    caBundle: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "must be PEM certificates (the CA that signs the ACME server's own TLS certificate)" }).optional(),
});

/** fail2ban's defaults: 5 failed logins within 10 minutes ban the address for an hour. */
export const FAIL2BAN_DEFAULTS = { maxRetry: 5, findTime: 600, banTime: 3600 };

const fail2banSchema = z
    .union([
        z.literal(false),
        z.strictObject({
            maxRetry: z.number().int().min(1).max(100).default(FAIL2BAN_DEFAULTS.maxRetry),
            findTime: z.number().int().min(60).max(7 * 86400).default(FAIL2BAN_DEFAULTS.findTime),
            banTime: z.number().int().min(60).max(365 * 86400).default(FAIL2BAN_DEFAULTS.banTime),
        }),
    ], { message: "must be false (no banning) or {maxRetry, findTime (seconds), banTime (seconds)}" })
    .default(FAIL2BAN_DEFAULTS);

const aliasTargets = z
    .union([z.string(), z.array(z.string()).min(1)])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .pipe(
        z.array(
            z.string().refine((t) => LOGIN_RE.test(t) || ADDRESS_RE.test(t), {
                message: "alias targets are local names (a user, root, another alias) or full addresses (someone@example.org)",
            }),
        ),
    );

/** The schema of every `mailhost:*` key. Keys absent from it are rejected as typos. */
const rawSchema = z.strictObject({
    domain: domainName,
    hostname: domainName.optional(),
    target: z.enum(["aws", "ssh"]).default("aws"),
    os: z.enum(OS_NAMES as [OsName, ...OsName[]]).default("rhel8"),
    ssh: sshSchema.optional(),
    sshPrivateKey: z
        .string({ message: "is required: set it with `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`" })
        .regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, { message: "must be a private key in PEM or OpenSSH format" }),
    aws: awsSchema.optional(),
    publicIp: z.string().refine(isIpv4, { message: "must be an IPv4 address" }).optional(),
    users: z.array(userSchema).default([]),
    aliases: z
        .record(z.string().regex(LOCAL_PART_RE, { message: "alias names are lowercase local parts such as dream or info" }), aliasTargets)
        .default({}),
    trustedNetworks: z.array(cidr).default([]),
    clientCidrs: z.array(cidr).optional(),
    dns: z.strictObject({ extraRecords: z.array(dnsRecordSchema).default([]) }).default({ extraRecords: [] }),
    postfixSettings: settings,
    dovecotSettings: settings,
    tls: tlsSchema.optional(),
    acme: acmeSchema.optional(),
    allowPlaintextAuth: z.boolean().default(false),
    fail2ban: fail2banSchema,
    dmarcPolicy: z.enum(["none", "quarantine", "reject"]).default("quarantine"),
});

export type RawConfig = z.infer<typeof rawSchema>;

/** A mail user: a system account without a login shell, with a Maildir. */
export interface MailUserConfig {
    name: string;
    /** Secret. */
    password: pulumi.Output<string>;
    purgeOnDelete: boolean;
}

/** How to reach the host over SSH. */
export interface SshTarget {
    host: string;
    port: number;
    user: string;
}

/** `mailhost:fail2ban`. */
export interface Fail2banConfig {
    /** Failed logins that ban an address... */
    maxRetry: number;
    /** ...within this many seconds. */
    findTime: number;
    /** How long a ban lasts, in seconds. */
    banTime: number;
}

/** `mailhost:acme`. */
export interface AcmeConfig {
    /** The account's contact address. */
    email: string;
    /** The ACME directory URL. */
    server: string;
    /** PEM CA certificates to trust for the ACME server's own HTTPS (private CAs). */
    caBundle?: string;
}

/** The validated stack config, as the components use it. */
export interface MailConfig {
    domain: string;
    hostname: string;
    target: "aws" | "ssh";
    os: OsName;
    /** Set for target ssh. */
    ssh?: SshTarget;
    /** Secret. */
    sshPrivateKey: pulumi.Output<string>;
    /** Set for target aws. */
    aws?: RawConfig["aws"];
    /** For target ssh: the address published in the zone. */
    publicIp?: string;
    users: MailUserConfig[];
    /** alias -> targets, sorted by alias. */
    aliases: [string, string[]][];
    trustedNetworks: string[];
    clientCidrs?: string[];
    extraRecords: { name: string; type: string; value: string }[];
    /** Sorted by name. */
    postfixSettings: [string, string][];
    /** Sorted by name. */
    dovecotSettings: [string, string][];
    /** A user-provided certificate; the private key is secret. */
    tls?: { certificate: string; privateKey: pulumi.Output<string> };
    /** Obtain and renew the certificate from an ACME CA (HTTP-01 on port 80). */
    acme?: AcmeConfig;
    allowPlaintextAuth: boolean;
    /** Ban addresses that keep failing to log in (false: opted out). */
    fail2ban: false | Fail2banConfig;
    dmarcPolicy: "none" | "quarantine" | "reject";
}

// ---------------------------------------------------------------- reading

/** Keys whose values are JSON (objects, arrays, booleans) rather than plain strings. */
const JSON_KEYS = new Set([
    "ssh", "aws", "users", "aliases", "trustedNetworks", "clientCidrs", "dns", "postfixSettings",
    "dovecotSettings", "tls", "acme", "allowPlaintextAuth", "fail2ban",
]);
/** Keys that hold secrets and must be set with `--secret`. */
const SECRET_KEYS = ["sshPrivateKey", "users", "tls"];

function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
    }
    return d[a.length][b.length];
}

/** ": did you mean X?" when `key` looks like a typo of one of `known`. */
function suggestion(key: string, known: string[], prefix = ""): string {
    const distance = (k: string) => editDistance(k.toLowerCase(), key.toLowerCase());
    const best = Math.min(...known.map(distance));
    const near = best <= Math.max(1, Math.ceil(key.length / 3)) ? known.filter((k) => distance(k) === best) : [];
    return near.length ? `: did you mean ${near.map((k) => `${prefix}${k}`).join(" or ")}?` : "";
}

/** The keys the schema allows in the object at `path` (through optionals, defaults and arrays). */
function knownKeysAt(path: PropertyKey[]): string[] {
    type Node = { shape?: Record<string, unknown>; element?: unknown; unwrap?: () => unknown; def?: { innerType?: unknown; options?: Node[] } };
    const inner = (n: Node): Node => {
        for (let i = 0; i < 10; i++) {
            const next = (n.def?.innerType ?? (typeof n.unwrap === "function" && !n.shape && !n.element ? n.unwrap() : undefined)) as Node | undefined;
            if (!next) break;
            n = next;
        }
        // A union (e.g. `false` or an object): the object's keys.
        const object = n.def?.options?.map(inner).find((o) => o.shape);
        return object ?? n;
    };
    let node = inner(rawSchema as unknown as Node);
    for (const part of path) {
        node = inner((typeof part === "number" ? node.element : node.shape?.[String(part)]) as Node);
        if (!node) return [];
    }
    return Object.keys(node.shape ?? {});
}

/** `mailhost:users[0].name` for the path ["users", 0, "name"]. */
function keyPath(path: PropertyKey[]): string {
    const [key, ...rest] = path;
    return rest.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : `${acc}.${String(part)}`), `${NAMESPACE}:${String(key)}`);
}

/** Parts of structured secret keys that are not secret, and may be shown. */
const SHOWN_IN_SECRET_KEYS = new Set(["name", "purgeOnDelete", "certificate"]);

/** A config path whose value is (or may hold) a secret: its value is never printed. */
function isSecretPath(path: PropertyKey[]): boolean {
    if (!SECRET_KEYS.includes(String(path[0]))) return false;
    const last = path[path.length - 1];
    return !(path.length > 1 && typeof last === "string" && SHOWN_IN_SECRET_KEYS.has(last));
}

/**
 * Validates raw config values (as `pulumi config` stores them: strings, JSON for
 * structured keys) and returns the typed config. `secretKeys` are the keys that were
 * set with `--secret`.
 */
export function parseConfig(values: Record<string, string>, secretKeys: ReadonlySet<string>): MailConfig {
    const problems: string[] = [];
    const known = Object.keys(rawSchema.shape);
    const input: Record<string, unknown> = {};
    for (const [key, text] of Object.entries(values)) {
        if (!known.includes(key)) {
            problems.push(`${NAMESPACE}:${key} is not a mailhost setting${suggestion(key, known, `${NAMESPACE}:`)} (see the README's config reference)`);
            continue;
        }
        if (JSON_KEYS.has(key)) {
            try {
                input[key] = JSON.parse(text);
            } catch {
                const shown = SECRET_KEYS.includes(key) ? "" : `, got ${JSON.stringify(text)}`;
                problems.push(`${NAMESPACE}:${key} must be structured YAML/JSON${shown}`);
            }
        } else {
            input[key] = text;
        }
    }
    const parsed = rawSchema.safeParse(input, { reportInput: true });
    if (!parsed.success) {
        for (const issue of parsed.error.issues) {
            if (issue.code === "unrecognized_keys") {
                for (const k of issue.keys) {
                    if (issue.path.length) problems.push(`${keyPath([...issue.path, k])} is not a known setting of ${keyPath(issue.path)}${suggestion(k, knownKeysAt(issue.path), `${keyPath(issue.path)}.`)}`);
                }
                continue;
            }
            if (issue.code === "invalid_key") {
                // A bad key of a record (setting or alias name): say which rule it broke.
                const reason = issue.issues.map((i) => i.message).join("; ");
                problems.push(`${keyPath(issue.path)}: the name ${JSON.stringify(issue.input)} is not allowed: ${reason}`);
                continue;
            }
            const shown = isSecretPath(issue.path) || issue.input === undefined ? "" : ` (got ${JSON.stringify(issue.input)})`;
            problems.push(`${keyPath(issue.path)} ${issue.message.replace(/^Invalid input: /, "")}${shown}`);
        }
        throw new ConfigError(problems);
    }
    const raw = parsed.data;
    for (const key of SECRET_KEYS) {
        const empty = key === "users" && raw.users.length === 0;
        if (values[key] !== undefined && !empty && !secretKeys.has(key)) {
            const how = key === "users" ? "--path 'users[N].password'" : key;
            problems.push(`${NAMESPACE}:${key} holds a secret stored in plain text: set it with \`pulumi config set --secret ${how}\``);
        }
    }
    problems.push(...crossChecks(raw));
    if (problems.length) throw new ConfigError(problems);
    return toMailConfig(raw);
}

/** Rules that involve more than one key. */
function crossChecks(raw: RawConfig): string[] {
    const problems: string[] = [];
    const hostname = raw.hostname ?? `mail.${raw.domain}`;
    if (hostname !== raw.domain && !hostname.endsWith(`.${raw.domain}`)) {
        problems.push(`${NAMESPACE}:hostname ${JSON.stringify(hostname)} must be inside ${NAMESPACE}:domain ${JSON.stringify(raw.domain)}, e.g. mail.${raw.domain}`);
    }
    if (raw.target === "ssh") {
        if (!raw.ssh) problems.push(`${NAMESPACE}:ssh is required for target ssh: {host: 192.168.10.10, port: 22, user: root}`);
        if (raw.aws) problems.push(`${NAMESPACE}:aws is set but ${NAMESPACE}:target is ssh: remove one of them`);
        if (raw.ssh && !raw.publicIp && !isIpv4(raw.ssh.host)) {
            problems.push(`${NAMESPACE}:publicIp is required when ${NAMESPACE}:ssh.host is a name (${raw.ssh.host}): the zone needs the address clients use`);
        }
    } else {
        if (!raw.aws) problems.push(`${NAMESPACE}:aws is required for target aws: {sshPublicKey: "ssh-ed25519 ...", adminCidrs: [203.0.113.7/32]}`);
        if (raw.ssh) problems.push(`${NAMESPACE}:ssh is set but ${NAMESPACE}:target is aws: set ${NAMESPACE}:target ssh, or remove ${NAMESPACE}:ssh`);
        if (raw.os !== "rhel8") problems.push(`${NAMESPACE}:os must be rhel8 for target aws (the AMI is RHEL 8)`);
        if (raw.publicIp) problems.push(`${NAMESPACE}:publicIp is only for target ssh: on AWS the Elastic IP is published`);
    }

    const users = new Set<string>();
    raw.users.forEach((u, i) => {
        if (users.has(u.name)) problems.push(`${NAMESPACE}:users[${i}].name ${JSON.stringify(u.name)} is listed twice`);
        if (RESERVED_NAMES.has(u.name) || u.name.startsWith("systemd-")) {
            problems.push(`${NAMESPACE}:users[${i}].name ${JSON.stringify(u.name)} is a system account: choose another name (an alias can forward it)`);
        }
        users.add(u.name);
    });

    const aliases = new Map(Object.entries(raw.aliases));
    for (const [alias, targets] of aliases) {
        if (users.has(alias)) problems.push(`${NAMESPACE}:aliases.${alias} has the name of a user: an address is either a user or an alias`);
        if (alias === "root") problems.push(`${NAMESPACE}:aliases.root would take root's mail away from root's mailbox: alias another name to root instead`);
        for (const t of targets) {
            if (t.includes("@")) continue;
            if (!users.has(t) && !aliases.has(t) && !SYSTEM_RECIPIENTS.has(t)) {
                problems.push(`${NAMESPACE}:aliases.${alias} points to ${JSON.stringify(t)}, which is neither a user, an alias, root nor postmaster`);
            }
        }
    }
    // Loops: follow local targets through aliases.
    const reported = new Set<string>();
    const visit = (name: string, trail: string[]) => {
        if (trail.includes(name)) {
            const loop = [...trail.slice(trail.indexOf(name)), name];
            const key = [...loop].slice(0, -1).sort().join(",");
            if (!reported.has(key)) {
                reported.add(key);
                problems.push(`${NAMESPACE}:aliases has a loop: ${loop.join(" -> ")}`);
            }
            return;
        }
        for (const t of aliases.get(name) ?? []) if (aliases.has(t)) visit(t, [...trail, name]);
    };
    for (const alias of aliases.keys()) visit(alias, []);

    if (raw.acme && raw.tls) {
        problems.push(`${NAMESPACE}:acme and ${NAMESPACE}:tls are both set: the certificate comes either from an ACME CA or from you; remove one`);
    }
    if (raw.clientCidrs && raw.clientCidrs.length === 0) {
        problems.push(`${NAMESPACE}:clientCidrs is empty, which would lock every mail client out: remove it to allow everyone`);
    }
    const reservedRecordNames = new Set(["@", "ns", hostname === raw.domain ? "@" : hostname.slice(0, -raw.domain.length - 1)]);
    raw.dns.extraRecords.forEach((r, i) => {
        const name = r.name.toLowerCase();
        if (reservedRecordNames.has(name) && ["A", "AAAA", "CNAME", "NS"].includes(r.type) && !(name === "@" && r.type !== "CNAME" && r.type !== "NS")) {
            problems.push(`${NAMESPACE}:dns.extraRecords[${i}] (${r.name} ${r.type}) would replace a record mailhost manages`);
        }
    });
    return problems;
}

function toMailConfig(raw: RawConfig): MailConfig {
    const sorted = (o: Record<string, string>) => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
        domain: raw.domain,
        hostname: raw.hostname ?? `mail.${raw.domain}`,
        target: raw.target,
        os: raw.os,
        ssh: raw.ssh,
        sshPrivateKey: pulumi.secret(raw.sshPrivateKey),
        aws: raw.aws,
        publicIp: raw.publicIp ?? (raw.ssh && isIpv4(raw.ssh.host) ? raw.ssh.host : undefined),
        users: raw.users.map((u) => ({ name: u.name, password: pulumi.secret(u.password), purgeOnDelete: u.purgeOnDelete })),
        aliases: Object.entries(raw.aliases)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([k, v]) => [k, v]),
        trustedNetworks: raw.trustedNetworks,
        clientCidrs: raw.clientCidrs,
        extraRecords: raw.dns.extraRecords,
        postfixSettings: sorted(raw.postfixSettings),
        dovecotSettings: sorted(raw.dovecotSettings),
        tls: raw.tls ? { certificate: raw.tls.certificate, privateKey: pulumi.secret(raw.tls.privateKey) } : undefined,
        acme: raw.acme,
        allowPlaintextAuth: raw.allowPlaintextAuth,
        fail2ban: raw.fail2ban,
        dmarcPolicy: raw.dmarcPolicy,
    };
}

interface RuntimeConfigInternals {
    isConfigSecret(key: string): boolean;
}

/** Reads and validates the `mailhost:*` keys of the running stack. */
export function loadConfig(): MailConfig {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const runtimeConfig: RuntimeConfigInternals = require("@pulumi/pulumi/runtime/config");
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        const [ns, key] = [fullKey.slice(0, fullKey.indexOf(":")), fullKey.slice(fullKey.indexOf(":") + 1)];
        if (ns !== NAMESPACE) continue;
        values[key] = value;
        if (runtimeConfig.isConfigSecret(fullKey)) secretKeys.add(key);
    }
    return parseConfig(values, secretKeys);
}
