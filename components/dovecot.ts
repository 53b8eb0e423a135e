/**
 * Dovecot: IMAP and POP3 for the mail users (system accounts, PAM), Maildir in their
 * homes, LMTP delivery from Postfix and SASL authentication for Postfix.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./platform";
import { DOVECOT_SOCKETS } from "./postfix";
import { HostConnection, hostStep } from "./remote";
import { mergeSettings, settingLines } from "./settings";
import { heredoc, stepScript } from "./shell";

export interface DovecotConfArgs {
    domain: string;
    certFile: string;
    keyFile: string;
    /** Accept passwords without TLS (the chapter's lab setup); off by default. */
    allowPlaintextAuth: boolean;
    /** Lowest uid allowed to log in / receive mail. */
    firstValidUid: number;
    /** `mailhost:dovecotSettings`, applied last. */
    extraSettings: [string, string][];
}

export interface DovecotArgs extends Omit<DovecotConfArgs, "firstValidUid"> {
    connection: HostConnection;
    platform: Platform;
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Replaced on the host: Dovecot fails to start if told to listen on IPv6 without it. */
export const LISTEN_PLACEHOLDER = "@MAILHOST_LISTEN@";

/** dovecot.conf, complete (the distribution's conf.d is not included). */
export function renderDovecotConf(args: DovecotConfArgs): string {
    const queue = "/var/spool/postfix";
    const settings: [string, string][] = [
        ["protocols", "imap pop3 lmtp"],
        // "*, ::", or "*" on a host without IPv6 (decided on the host).
        ["listen", LISTEN_PLACEHOLDER],
        ["mail_location", "maildir:~/Maildir"],
        ["first_valid_uid", String(args.firstValidUid)],
        // Without TLS only localhost may send a password, unless the lab opt-out is set.
        ["disable_plaintext_auth", args.allowPlaintextAuth ? "no" : "yes"],
        ["auth_mechanisms", "plain login"],
        // Postfix's LMTP client sends user@domain; the account is the local part.
        ["auth_username_format", "%Ln"],
        ["ssl", args.allowPlaintextAuth ? "yes" : "required"],
        ["ssl_cert", `<${args.certFile}`],
        ["ssl_key", `<${args.keyFile}`],
        ["ssl_min_protocol", "TLSv1.2"],
        ["ssl_prefer_server_ciphers", "yes"],
        ["pop3_uidl_format", "%08Xu%08Xv"],
        ["postmaster_address", `postmaster@${args.domain}`],
        ["log_path", "syslog"],
    ];
    return [
        "# Managed by mailhost: change the stack config (mailhost:dovecotSettings), not this file.",
        ...settingLines(mergeSettings(settings, args.extraSettings)),
        "",
        "passdb {",
        "  driver = pam",
        "}",
        "userdb {",
        "  driver = passwd",
        "}",
        "",
        "namespace inbox {",
        "  inbox = yes",
        "  mailbox Drafts {",
        "    special_use = \\Drafts",
        "    auto = subscribe",
        "  }",
        "  mailbox Sent {",
        "    special_use = \\Sent",
        "    auto = subscribe",
        "  }",
        "  mailbox Trash {",
        "    special_use = \\Trash",
        "    auto = subscribe",
        "  }",
        "  mailbox Junk {",
        "    special_use = \\Junk",
        "    auto = subscribe",
        "  }",
        "}",
        "",
        "service imap-login {",
        "  inet_listener imap {",
        "    port = 143",
        "  }",
        "  inet_listener imaps {",
        "    port = 993",
        "    ssl = yes",
        "  }",
        "}",
        "service pop3-login {",
        "  inet_listener pop3 {",
        "    port = 110",
        "  }",
        "  inet_listener pop3s {",
        "    port = 995",
        "    ssl = yes",
        "  }",
        "}",
        "service lmtp {",
        `  unix_listener ${queue}/${DOVECOT_SOCKETS.lmtp} {`,
        "    mode = 0600",
        "    user = postfix",
        "    group = postfix",
        "  }",
        "}",
        "service auth {",
        `  unix_listener ${queue}/${DOVECOT_SOCKETS.auth} {`,
        "    mode = 0660",
        "    user = postfix",
        "    group = postfix",
        "  }",
        "  unix_listener auth-userdb {",
        "    mode = 0600",
        "  }",
        "}",
        "",
        "protocol lmtp {",
        "  # Deliver to the account whatever the recipient's domain (mydestination decides).",
        "  auth_username_format = %Ln",
        "}",
        "",
    ].join("\n");
}

/** The step script: stage dovecot.conf, validate it with doveconf, swap, reload. */
export function renderDovecotScript(platform: Platform, args: DovecotConfArgs): string {
    return stepScript("Dovecot", [
        heredoc(`cat >"$mh_stage/dovecot.conf"`, renderDovecotConf(args)),
        `if [ -s /proc/net/if_inet6 ]; then listen='*, ::'; else listen='*'; fi`,
        `sed -i "s/${LISTEN_PLACEHOLDER}/$listen/" "$mh_stage/dovecot.conf"`,
        `mh_validate "Dovecot" doveconf -n -c "$mh_stage/dovecot.conf"`,
        `changed=0`,
        `mh_put ${platform.dovecot.conf} 0644 root:root <"$mh_stage/dovecot.conf" && changed=1`,
        `mh_service dovecot "$changed"`,
    ]);
}

/** Dovecot, configured and running. */
export class Dovecot extends pulumi.ComponentResource {
    /** The step after which Dovecot runs with this configuration. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: DovecotArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:dovecot:Dovecot", name, {}, opts);
        this.ready = hostStep(
            `${name}-config`,
            {
                connection: args.connection,
                script: renderDovecotScript(args.platform, { ...args, firstValidUid: args.platform.firstUid }),
            },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
