/**
 * Test inputs shared by the unit tests: the chapter's stack config (Pulumi.dev.yaml)
 * completed with test secrets, variants of it, and the secrets themselves.
 *
 * Every secret carries a distinctive canary token: a leak is detected by searching
 * for the token, which survives any quoting or escaping of the value around it.
 */
import { readStackConfig } from "../harness/program";
import { MailConfig, parseConfig } from "../../components/config";

/** Tokens that must never appear outside a secret. */
export const CANARIES = ["CANARYPW1", "CANARYPW2", "CANARYPW3", "CANARYSSHKEY", "CANARYTLSKEY"] as const;

/**
 * Passwords with everything a shell could misread: quotes, `$()`, backticks,
 * globs, spaces, a backslash and non-ASCII characters.
 */
export const PASSWORD1 = `Pw'"$(touch /tmp/mailhost-pwned)\`id\` * ü密码 \\n CANARYPW1`;
export const PASSWORD2 = `  lead&trail; $HOME \${PATH} !! CANARYPW2  `;
export const PASSWORD3 = `CANARYPW3-changed'"\`$()`;

export const SSH_PRIVATE_KEY = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW-CANARYSSHKEY",
    "-----END OPENSSH PRIVATE KEY-----",
    "",
].join("\n");

export const TLS_PRIVATE_KEY = [
    "-----BEGIN PRIVATE KEY-----",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7-CANARYTLSKEY",
    "-----END PRIVATE KEY-----",
    "",
].join("\n");

/** Not a secret: a certificate is public. */
export const TLS_CERTIFICATE = [
    "-----BEGIN CERTIFICATE-----",
    "MIIDazCCAlOgAwIBAgIUPublicCertificateOfMailLinuxprobeCom",
    "-----END CERTIFICATE-----",
    "",
].join("\n");

export const SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicKeyOfTheAdmin admin@example.org";

/** Keys the tests set with --secret. */
export const SECRET_KEYS = ["users", "sshPrivateKey", "tls"];

export type StackConfig = Record<string, unknown>;

/** The chapter's config: Pulumi.dev.yaml plus the test secrets. */
export function chapterConfig(): StackConfig {
    const cfg = readStackConfig("dev");
    const users = cfg.users as { name: string }[];
    return {
        ...cfg,
        users: users.map((u, i) => ({ ...u, password: i === 0 ? PASSWORD1 : PASSWORD2 })),
        sshPrivateKey: SSH_PRIVATE_KEY,
    };
}

/** The chapter's mail system on AWS instead of the chapter's host. */
export function awsConfig(aws: Record<string, unknown> = {}): StackConfig {
    const { ssh: _ssh, ...cfg } = chapterConfig();
    void _ssh;
    return {
        ...cfg,
        target: "aws",
        aws: { sshPublicKey: SSH_PUBLIC_KEY, adminCidrs: ["203.0.113.7/32", "2001:db8:7::/48"], ...aws },
    };
}

/** Everything optional set: users, aliases, extra records, settings, clientCidrs, TLS. */
export function fullConfig(os: "rhel8" | "debian12"): StackConfig {
    return {
        ...chapterConfig(),
        os,
        users: [
            { name: "liuchuan", password: PASSWORD1 },
            { name: "wang_li", password: PASSWORD2, purgeOnDelete: true },
        ],
        aliases: { dream: "root", info: ["liuchuan", "wang_li"], sales: "info", partner: "someone@example.org" },
        dns: {
            extraRecords: [
                { name: "www", type: "A", value: "192.168.10.20" },
                { name: "@", type: "TXT", value: "google-site-verification=abc123" },
                { name: "_imaps._tcp", type: "SRV", value: "0 1 993 mail.linuxprobe.com." },
            ],
        },
        postfixSettings: { message_size_limit: 10485760, smtpd_banner: "$myhostname ESMTP ready" },
        dovecotSettings: { mail_debug: true },
        clientCidrs: ["192.168.10.0/24", "2001:db8::/32"],
        tls: { certificate: TLS_CERTIFICATE, privateKey: TLS_PRIVATE_KEY },
    };
}

/** Config values as `pulumi config` stores them: strings, JSON for structured keys. */
export function configValues(cfg: StackConfig): Record<string, string> {
    return Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** `parseConfig` of a stack config, with the tests' secret keys marked secret. */
export function parse(cfg: StackConfig, secretKeys: string[] = SECRET_KEYS): MailConfig {
    return parseConfig(configValues(cfg), new Set(secretKeys.filter((k) => k in cfg)));
}

/** The canaries found in `text`. */
export function leaks(text: string): string[] {
    return CANARIES.filter((c) => text.includes(c));
}
