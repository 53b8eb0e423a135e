/**
 * fail2ban: an address that keeps failing to log in (SMTP AUTH on 25/465/587, IMAP,
 * POP3) is banned from those ports for a while, through firewalld rich rules. It reads
 * the journal (RHEL 8 and Debian 12 alike), ignores loopback and the trusted networks,
 * and leaves SSH alone: a deployer retrying with a wrong key would ban itself.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Fail2banConfig } from "./config";
import { Platform } from "./platform";
import { HostConnection, hostStep } from "./remote";
import { heredoc, stepScript } from "./shell";

export interface Fail2banArgs {
    connection: HostConnection;
    platform: Platform;
    /** Retries, window and ban length. */
    limits: Fail2banConfig;
    /** Never banned: they relay without logging in anyway. */
    trustedNetworks: string[];
    /** Postfix, Dovecot and the firewall: what fail2ban watches and acts on. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Our jails; `.local` so that it overrides the package's `jail.conf` and `jail.d/*.conf`. */
export const JAIL_FILE = "/etc/fail2ban/jail.d/mailhost.local";
/** Daemon settings beside the package's `fail2ban.conf`. */
export const DAEMON_FILE = "/etc/fail2ban/fail2ban.d/mailhost.local";

/** fail2ban 1.0.2 (Debian 12, EPEL 8) warns at every start when `allowipv6` is unset. */
export const DAEMON_CONF = "# Managed by mailhost.\n[Definition]\nallowipv6 = auto\n";

export function renderJailConf(platform: Platform, args: Pick<Fail2banArgs, "limits" | "trustedNetworks">): string {
    return [
        "# Managed by mailhost: change the stack config, not this file.",
        "[DEFAULT]",
        // Every distribution logs to the journal; not every one has /var/log/maillog.
        "backend = systemd",
        "banaction = firewallcmd-rich-rules[actiontype=<multiport>]",
        "banaction_allports = firewallcmd-rich-rules[actiontype=<allports>]",
        `ignoreip = ${["127.0.0.1/8", "::1", ...args.trustedNetworks].join(" ")}`,
        `maxretry = ${args.limits.maxRetry}`,
        `findtime = ${args.limits.findTime}`,
        `bantime = ${args.limits.banTime}`,
        "",
        "[sshd]",
        "enabled = false",
        "",
        "[postfix-sasl]",
        "enabled = true",
        `filter = postfix[mode=auth, journalmatch="_SYSTEMD_UNIT=${platform.postfix.logUnit}"]`,
        "port = 25,465,587",
        "",
        "[dovecot]",
        "enabled = true",
        "port = 143,993,110,995",
        "",
    ].join("\n");
}

/** Installs the validated jails and runs fail2ban. */
export function renderFail2banScript(platform: Platform, args: Pick<Fail2banArgs, "limits" | "trustedNetworks">): string {
    return stepScript("fail2ban", [
        `# Validate the whole configuration with our file in it before it goes live.`,
        `mkdir -p "$mh_stage/etc" && cp -a /etc/fail2ban "$mh_stage/etc/"`,
        `mkdir -p "$(dirname "$mh_stage${DAEMON_FILE}")"`,
        heredoc(`cat >"$mh_stage${DAEMON_FILE}"`, DAEMON_CONF),
        heredoc(`cat >"$mh_stage${JAIL_FILE}"`, renderJailConf(platform, args)),
        `mh_validate "fail2ban" fail2ban-client -c "$mh_stage/etc/fail2ban" --test`,
        `changed=0`,
        `mh_put ${DAEMON_FILE} 0644 root:root <"$mh_stage${DAEMON_FILE}" && changed=1`,
        `mh_put ${JAIL_FILE} 0644 root:root <"$mh_stage${JAIL_FILE}" && changed=1`,
        `mh_service fail2ban "$changed"`,
    ]);
}

/** Removes our jails (`mailhost:fail2ban: false`) and stops fail2ban, lifting its bans. */
export function renderFail2banDeleteScript(): string {
    return stepScript("remove the mail jails of fail2ban", [
        `for f in ${JAIL_FILE} ${DAEMON_FILE}; do if [ -f "$f" ]; then rm -f "$f"; mh_log "removed $f"; fi; done`,
        `if systemctl is-enabled --quiet fail2ban 2>/dev/null || systemctl is-active --quiet fail2ban; then systemctl disable --now --quiet fail2ban; mh_log "stopped fail2ban"; fi`,
    ]);
}

/** fail2ban guarding the mail logins. */
export class Fail2ban extends pulumi.ComponentResource {
    /** The step after which the jails run. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: Fail2banArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:fail2ban:Fail2ban", name, {}, opts);
        this.ready = hostStep(
            `${name}-jails`,
            { connection: args.connection, script: renderFail2banScript(args.platform, args), deleteScript: renderFail2banDeleteScript() },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
