/**
 * DKIM: OpenDKIM signs mail sent from the trusted networks and by authenticated users
 * with a 2048-bit key generated once on the host (and kept). Its public half is
 * published in our zone (`mail._domainkey`) and reported in the outputs.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./platform";
import { HostConnection, hostStep, reportedValue } from "./remote";
import { heredoc, shq, stepScript } from "./shell";

/** The DKIM selector: the record is `<selector>._domainkey.<domain>`. */
export const DKIM_SELECTOR = "mail";
/** Lines printed by the script that carry the public record (parsed into an output). */
export const DKIM_RECORD_PREFIX = "dkim-record=";

export interface DkimArgs {
    connection: HostConnection;
    platform: Platform;
    domain: string;
    /** Clients whose mail is signed without authentication (besides loopback). */
    trustedNetworks: string[];
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Paths of the key pair of `domain`. */
export function dkimKeyPaths(domain: string): { dir: string; privateKey: string; record: string } {
    const dir = `/etc/opendkim/keys/${domain}`;
    return { dir, privateKey: `${dir}/${DKIM_SELECTOR}.private`, record: `${dir}/${DKIM_SELECTOR}.txt` };
}

export function renderOpendkimConf(platform: Platform, domain: string): string {
    const keys = dkimKeyPaths(domain);
    return [
        "# Managed by mailhost: change the stack config, not this file.",
        "Syslog                  yes",
        "UMask                   007",
        "UserID                  opendkim",
        "PidFile                 /run/opendkim/opendkim.pid",
        `Socket                  ${platform.dkimSocket.opendkim}`,
        // Sign (s) mail of our domain from internal hosts and submission; verify (v) the rest.
        "Mode                    sv",
        `Domain                  ${domain}`,
        `Selector                ${DKIM_SELECTOR}`,
        `KeyFile                 ${keys.privateKey}`,
        "Canonicalization        relaxed/simple",
        "SignatureAlgorithm      rsa-sha256",
        "OversignHeaders         From",
        "InternalHosts           /etc/opendkim/internal-hosts",
        // Postfix's submission services set this daemon name: their mail is signed.
        "MTA                     ORIGINATING",
        "",
    ].join("\n");
}

export function renderInternalHosts(trustedNetworks: string[]): string {
    return ["127.0.0.1", "::1", ...trustedNetworks].join("\n") + "\n";
}

/** Generates the key once, installs the validated config, runs OpenDKIM, prints the record. */
export function renderDkimScript(args: Pick<DkimArgs, "platform" | "domain" | "trustedNetworks">): string {
    const keys = dkimKeyPaths(args.domain);
    const socketDir = args.platform.dkimSocket.dir;
    return stepScript(`DKIM for ${args.domain}`, [
        `dir=${shq(keys.dir)}`,
        `install -d -m 0750 -o opendkim -g opendkim /etc/opendkim /etc/opendkim/keys "$dir" ${socketDir}`,
        `mh_restorecon ${socketDir}`,
        `# Postfix reaches the milter socket through the opendkim group.`,
        `if ! id -nG postfix | tr ' ' '\\n' | grep -qx opendkim; then usermod -a -G opendkim postfix; mh_log "postfix added to the opendkim group"; fi`,
        `if [ ! -s ${shq(keys.privateKey)} ]; then`,
        `  opendkim-genkey -b 2048 -h sha256 -d ${shq(args.domain)} -s ${DKIM_SELECTOR} -D "$dir"`,
        `  chown opendkim:opendkim "$dir"/*`,
        `  chmod 0600 ${shq(keys.privateKey)}`,
        `  mh_restorecon -R /etc/opendkim`,
        `  mh_log "generated the DKIM key of ${args.domain}"`,
        `fi`,
        `changed=0`,
        `# Validated CIDRs only: installed first, since the validator opens it.`,
        heredoc(`mh_put /etc/opendkim/internal-hosts 0644 root:root`, renderInternalHosts(args.trustedNetworks), "&& changed=1"),
        heredoc(`cat >"$mh_stage/opendkim.conf"`, renderOpendkimConf(args.platform, args.domain)),
        `mh_validate "OpenDKIM" opendkim -n -x "$mh_stage/opendkim.conf"`,
        `mh_put /etc/opendkim.conf 0644 root:root <"$mh_stage/opendkim.conf" && changed=1`,
        `mh_service opendkim "$changed" restart`,
        `# The public record, one line (the zone file holds it split in 255-byte strings).`,
        `printf '${DKIM_RECORD_PREFIX}%s\\n' "$(sed -e 's/^[^"]*"//' -e 's/"[^"]*$//' -e 's/"[^"]*"//g' ${shq(keys.record)} | tr -d '\\n')"`,
    ]);
}

/** OpenDKIM with the domain's key. */
export class Dkim extends pulumi.ComponentResource {
    /** The step after which OpenDKIM signs: Postfix and the zone depend on it. */
    public readonly ready: command.remote.Command;
    /** The TXT value of `mail._domainkey` (v=DKIM1; ... p=...). */
    public readonly record: pulumi.Output<string>;
    /** Where the zone-file form of the record lives on the host. */
    public readonly recordFile: string;

    constructor(name: string, args: DkimArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:dkim:Dkim", name, {}, opts);
        this.recordFile = dkimKeyPaths(args.domain).record;
        this.ready = hostStep(`${name}-opendkim`, { connection: args.connection, script: renderDkimScript(args) }, { parent: this, dependsOn: args.dependsOn });
        this.record = reportedValue(this.ready, DKIM_RECORD_PREFIX);
        this.registerOutputs({ record: this.record });
    }
}
