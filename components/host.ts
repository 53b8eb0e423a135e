/**
 * Host basics: the host name, its /etc/hosts entry, and every package the mail
 * system needs, installed in one transaction.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { allPackages, Platform } from "./platform";
import { HostConnection, hostStep } from "./remote";
import { shq, stepScript } from "./shell";

export interface HostArgs {
    /** How to reach the host. */
    connection: HostConnection;
    /** Which OS the host runs. */
    platform: Platform;
    /** Fully qualified host name, e.g. mail.linuxprobe.com. */
    hostname: string;
    /** The address /etc/hosts maps the host name to. */
    address: pulumi.Input<string>;
    /** Install the ACME client too. */
    acme?: boolean;
    /** Install fail2ban (unless opted out). */
    fail2ban?: boolean;
}

/** The bash body that sets the host name and its /etc/hosts line. */
export function renderHostnameScript(hostname: string, address: string): string {
    const short = hostname.split(".")[0];
    return stepScript(`host name ${hostname}`, [
        `want=${shq(hostname)}`,
        `if [ "$(hostname)" != "$want" ] || [ "$(cat /etc/hostname 2>/dev/null)" != "$want" ]; then`,
        `  hostnamectl set-hostname "$want" 2>/dev/null || { printf '%s\\n' "$want" >/etc/hostname; hostname "$want"; }`,
        `  mh_log "host name set to $want"`,
        `fi`,
        `# One line of /etc/hosts is ours, marked; the others are kept as they are.`,
        `{ grep -v ' # mailhost$' /etc/hosts || true; printf '%s\\n' ${shq(`${address} ${hostname} ${short} # mailhost`)}; } >"$mh_stage/hosts"`,
        `mh_put /etc/hosts 0644 root:root <"$mh_stage/hosts" || true`,
    ]);
}

/** The bash body that installs the packages (skipped when all are installed). */
export function renderPackagesScript(platform: Platform, packages: readonly string[]): string {
    return stepScript(`packages for ${platform.label}`, [
        `# Wait for cloud-init (first boot on AWS) so the package manager is ours alone.`,
        `if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1 || true; fi`,
        `if ! ${platform.installedTest(packages)}; then`,
        ...platform.installCommand(packages).split("\n").map((l) => `  ${l}`),
        `  mh_log "installed: ${packages.join(" ")}"`,
        `fi`,
    ]);
}

/** The host: name and packages. Other components depend on `ready`. */
export class Host extends pulumi.ComponentResource {
    /** The step after which the host has its name and every package. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:host:Host", name, {}, opts);
        const packages = hostStep(
            `${name}-packages`,
            { connection: args.connection, script: renderPackagesScript(args.platform, allPackages(args.platform, { acme: args.acme, fail2ban: args.fail2ban })) },
            { parent: this },
        );
        this.ready = hostStep(
            `${name}-hostname`,
            {
                connection: args.connection,
                script: pulumi.output(args.address).apply((a) => renderHostnameScript(args.hostname, a)),
            },
            { parent: this, dependsOn: [packages] },
        );
        this.registerOutputs({});
    }
}
