/**
 * Postfix: the chapter's SMTP server (myhostname, mydomain, myorigin, inet_interfaces,
 * mydestination, mynetworks), delivering mail users' mail to Dovecot over LMTP, with
 * STARTTLS, authenticated submission (587, 465) and no open relay.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./platform";
import { HostConnection, hostStep } from "./remote";
import { mergeSettings, settingLines } from "./settings";
import { heredoc, stepScript } from "./shell";

/** Postfix's TLS protocol list without SSL and TLS < 1.2, in syntax Postfix 3.5 (RHEL 8) accepts. */
export const TLS_PROTOCOLS = "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1";

/** Lookup tables mailhost maintains; each user and the aliases edit their own lines. */
export const POSTFIX_MAPS = {
    /** user -> lmtp transport: which local recipients Dovecot stores (others: local mbox). */
    mailboxes: "/etc/postfix/mailhost/mailboxes",
    /** address -> login allowed to send as it. */
    senders: "/etc/postfix/mailhost/senders",
    /** alias address -> logins allowed to send as it. */
    aliasSenders: "/etc/postfix/mailhost/alias-senders",
};

/** Replaced on the host: `all` with IPv6, `ipv4` without (Postfix warns otherwise). */
export const INET_PROTOCOLS_PLACEHOLDER = "@MAILHOST_INET_PROTOCOLS@";

/** Dovecot's sockets, relative to Postfix's queue directory. */
export const DOVECOT_SOCKETS = { auth: "private/auth", lmtp: "private/dovecot-lmtp" };

export interface MainCfArgs {
    domain: string;
    hostname: string;
    /** Networks that may relay without authentication (besides loopback). */
    trustedNetworks: string[];
    certFile: string;
    keyFile: string;
    /** `mailhost:postfixSettings`, applied last. */
    extraSettings: [string, string][];
    /** `smtpd_milters` for DKIM signing, if any. */
    milters?: string;
}

export interface PostfixArgs extends MainCfArgs {
    connection: HostConnection;
    platform: Platform;
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** mynetworks in Postfix syntax: loopback plus the trusted networks (IPv6 in brackets). */
export function mynetworks(trusted: string[]): string {
    const fmt = (cidr: string) => {
        const [addr, len] = cidr.split("/");
        return addr.includes(":") ? `[${addr}]/${len}` : cidr;
    };
    return ["127.0.0.0/8", "[::1]/128", ...trusted.map(fmt)].join(" ");
}

export function renderMainCf(platform: Platform, args: MainCfArgs): string {
    const maps = POSTFIX_MAPS;
    const base: [string, string][] = [
        ["compatibility_level", platform.postfix.compatibilityLevel],
        ...platform.postfix.distributionSettings,
        // The chapter's settings (table 15-1).
        ["myhostname", args.hostname],
        ["mydomain", args.domain],
        ["myorigin", "$mydomain"],
        ["inet_interfaces", "all"],
        // "all", or "ipv4" on a host without IPv6 (decided on the host).
        ["inet_protocols", INET_PROTOCOLS_PLACEHOLDER],
        ["mydestination", "$myhostname, $mydomain, localhost.$mydomain, localhost"],
        ["mynetworks", mynetworks(args.trustedNetworks)],
        ["relay_domains", ""],
        ["smtpd_banner", "$myhostname ESMTP"],
        ["biff", "no"],
        ["append_dot_mydomain", "no"],
        ["alias_maps", "hash:/etc/aliases"],
        ["alias_database", "hash:/etc/aliases"],
        ["unknown_local_recipient_reject_code", "550"],
        ["recipient_delimiter", "+"],
        ["message_size_limit", "26214400"],
        // root's mbox (the chapter's mailx) must take any message Postfix accepts.
        ["mailbox_size_limit", "1073741824"],
        ["disable_vrfy_command", "yes"],
        ["smtpd_helo_required", "yes"],
        // Mail users' mail goes to Dovecot (LMTP, Maildir); root and other system
        // accounts keep the local mbox that mailx reads, as in the chapter.
        ["mailbox_transport_maps", `hash:${maps.mailboxes}`],
        // TLS: offered on 25, required for AUTH, TLS 1.2 or newer.
        ["smtpd_tls_cert_file", args.certFile],
        ["smtpd_tls_key_file", args.keyFile],
        ["smtpd_tls_security_level", "may"],
        ["smtpd_tls_auth_only", "yes"],
        ["smtpd_tls_protocols", TLS_PROTOCOLS],
        ["smtpd_tls_mandatory_protocols", TLS_PROTOCOLS],
        ["smtpd_tls_mandatory_ciphers", "high"],
        ["smtpd_tls_loglevel", "1"],
        ["smtpd_tls_received_header", "yes"],
        ["smtpd_tls_session_cache_database", "btree:${data_directory}/smtpd_scache"],
        ["smtp_tls_security_level", "may"],
        platform.postfix.caSetting,
        ["smtp_tls_protocols", "!SSLv2, !SSLv3"],
        ["smtp_tls_session_cache_database", "btree:${data_directory}/smtp_scache"],
        // Authentication through Dovecot; AUTH is enabled only on the submission ports.
        ["smtpd_sasl_type", "dovecot"],
        ["smtpd_sasl_path", DOVECOT_SOCKETS.auth],
        ["smtpd_sasl_auth_enable", "no"],
        ["smtpd_sender_login_maps", `hash:${maps.senders}, hash:${maps.aliasSenders}`],
        // No open relay: trusted networks and authenticated users only.
        ["smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"],
        ["smtpd_recipient_restrictions", "reject_non_fqdn_recipient, reject_unlisted_recipient, permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"],
        ...(args.milters
            ? ([
                  ["smtpd_milters", args.milters],
                  ["non_smtpd_milters", "$smtpd_milters"],
                  ["milter_default_action", "accept"],
              ] as [string, string][])
            : []),
    ];
    return [
        "# Managed by mailhost: change the stack config (mailhost:postfixSettings), not this file.",
        ...settingLines(mergeSettings(base, args.extraSettings)),
        "",
    ].join("\n");
}

/** The options of an authenticated submission service (587 STARTTLS, 465 implicit TLS). */
const SUBMISSION_OPTIONS = [
    "-o smtpd_tls_security_level=encrypt",
    "-o smtpd_sasl_auth_enable=yes",
    "-o smtpd_tls_auth_only=yes",
    "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
    "-o smtpd_sender_restrictions=reject_sender_login_mismatch",
    "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
    "-o smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
    "-o milter_macro_daemon_name=ORIGINATING",
];

/**
 * master.cf, the same on every OS: no chroot (RHEL's default; on Debian it would need
 * copies of /etc files inside the queue directory).
 */
export function renderMasterCf(): string {
    const row = (svc: string, type: string, priv: string, unpriv: string, wakeup: string, maxproc: string, cmd: string) =>
        `${svc.padEnd(10)} ${type.padEnd(5)} ${priv.padEnd(7)} ${unpriv.padEnd(7)} n       ${wakeup.padEnd(7)} ${maxproc.padEnd(7)} ${cmd}`;
    const opts = (o: string[]) => o.map((x) => `  ${x}`);
    return [
        "# Managed by mailhost: change the stack config, not this file.",
        "# service  type  private unpriv  chroot  wakeup  maxproc command + args",
        row("smtp", "inet", "n", "-", "-", "-", "smtpd"),
        row("submission", "inet", "n", "-", "-", "-", "smtpd"),
        ...opts(["-o syslog_name=postfix/submission", ...SUBMISSION_OPTIONS]),
        row("smtps", "inet", "n", "-", "-", "-", "smtpd"),
        ...opts(["-o syslog_name=postfix/smtps", "-o smtpd_tls_wrappermode=yes", ...SUBMISSION_OPTIONS]),
        row("pickup", "unix", "n", "-", "60", "1", "pickup"),
        row("cleanup", "unix", "n", "-", "-", "0", "cleanup"),
        row("qmgr", "unix", "n", "-", "300", "1", "qmgr"),
        row("tlsmgr", "unix", "-", "-", "1000?", "1", "tlsmgr"),
        row("rewrite", "unix", "-", "-", "-", "-", "trivial-rewrite"),
        row("bounce", "unix", "-", "-", "-", "0", "bounce"),
        row("defer", "unix", "-", "-", "-", "0", "bounce"),
        row("trace", "unix", "-", "-", "-", "0", "bounce"),
        row("verify", "unix", "-", "-", "-", "1", "verify"),
        row("flush", "unix", "n", "-", "1000?", "0", "flush"),
        row("proxymap", "unix", "-", "-", "-", "-", "proxymap"),
        row("proxywrite", "unix", "-", "-", "-", "1", "proxymap"),
        row("smtp", "unix", "-", "-", "-", "-", "smtp"),
        row("relay", "unix", "-", "-", "-", "-", "smtp"),
        ...opts(["-o syslog_name=postfix/$service_name"]),
        row("showq", "unix", "n", "-", "-", "-", "showq"),
        row("error", "unix", "-", "-", "-", "-", "error"),
        row("retry", "unix", "-", "-", "-", "-", "error"),
        row("discard", "unix", "-", "-", "-", "-", "discard"),
        row("local", "unix", "-", "n", "-", "-", "local"),
        row("virtual", "unix", "-", "n", "-", "-", "virtual"),
        row("lmtp", "unix", "-", "-", "-", "-", "lmtp"),
        row("anvil", "unix", "-", "-", "-", "1", "anvil"),
        row("scache", "unix", "-", "-", "-", "1", "scache"),
        row("postlog", "unix-dgram", "n", "-", "-", "1", "postlogd"),
        "",
    ].join("\n");
}

/** The step script: stage main.cf and master.cf, validate them, swap, reload. */
export function renderPostfixScript(platform: Platform, args: MainCfArgs): string {
    return stepScript("Postfix", [
        heredoc(`cat >"$mh_stage/main.cf"`, renderMainCf(platform, args)),
        heredoc(`cat >"$mh_stage/master.cf"`, renderMasterCf()),
        `if [ -s /proc/net/if_inet6 ]; then protocols=all; else protocols=ipv4; fi`,
        `sed -i "s/${INET_PROTOCOLS_PLACEHOLDER}/$protocols/" "$mh_stage/main.cf"`,
        `# Every Postfix command re-reads a main.cf or master.cf changed within the current`,
        `# second (a guard against half-written files), ~1.5 s each; ours are complete (staged,`,
        `# then renamed into place), so their time stamps are set back out of that window.`,
        `settle() { touch -d "@$(($(date +%s) - 2))" "$@"; }`,
        `settle "$mh_stage/main.cf" "$mh_stage/master.cf"`,
        `mh_validate "Postfix" postconf -c "$mh_stage" -n`,
        `mh_validate "Postfix" postconf -c "$mh_stage" -M`,
        `mh_validate "Postfix" postfix -c "$mh_stage" check`,
        `changed=0`,
        `mh_put /etc/postfix/main.cf 0644 root:root <"$mh_stage/main.cf" && changed=1`,
        `mh_put /etc/postfix/master.cf 0644 root:root <"$mh_stage/master.cf" && changed=1`,
        `if [ "$changed" = 1 ]; then settle /etc/postfix/main.cf /etc/postfix/master.cf; fi`,
        `mkdir -p /etc/postfix/mailhost`,
        `# The lookup tables users and aliases fill in must exist before Postfix reads them.`,
        `for map in ${Object.values(POSTFIX_MAPS).join(" ")}; do`,
        `  [ -f "$map" ] || : >"$map"`,
        `  [ "$map.db" -nt "$map" ] || postmap "hash:$map"`,
        `done`,
        `[ -f /etc/aliases ] || printf 'postmaster: root\\n' >/etc/aliases`,
        `[ /etc/aliases.db -nt /etc/aliases ] || newaliases`,
        `mh_service postfix "$changed"`,
    ]);
}

/** Postfix, configured and running. */
export class Postfix extends pulumi.ComponentResource {
    /** The step after which Postfix runs with this configuration. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: PostfixArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:postfix:Postfix", name, {}, opts);
        this.ready = hostStep(
            `${name}-config`,
            { connection: args.connection, script: renderPostfixScript(args.platform, args) },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
