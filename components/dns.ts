/**
 * DNS: BIND as the authoritative server of the mail domain (SOA, NS, MX, A, SPF,
 * DMARC, DKIM and extra records), recursion only for the host itself.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./platform";
import { HostConnection, hostStep } from "./remote";
import { heredoc, shq, stepScript } from "./shell";

/** One resource record, relative to the zone's origin. */
export interface ZoneRecord {
    /** `@`, a relative name (`www`) or a fully qualified one ending in a dot. */
    name: string;
    type: string;
    value: string;
}

export interface ZoneArgs {
    domain: string;
    hostname: string;
    /** The address of the host (A records of the host and of `ns`). */
    address: string;
    /** DMARC policy published at _dmarc. */
    dmarcPolicy: "none" | "quarantine" | "reject";
    /** Records from `mailhost:dns.extraRecords`. */
    extraRecords: ZoneRecord[];
}

export interface DnsArgs extends Omit<ZoneArgs, "address"> {
    /** The address of the host (known only once an AWS Elastic IP exists). */
    address: pulumi.Input<string>;
    connection: HostConnection;
    platform: Platform;
    /** Where the DKIM public record (`mail._domainkey` TXT) is read on the host, if any. */
    dkimRecordFile?: string;
    /** Steps that must run first. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Placeholder replaced on the host by the zone's serial (it grows when the zone changes). */
export const SERIAL_PLACEHOLDER = "@MAILHOST_SERIAL@";
/** Placeholder line replaced on the host by the DKIM TXT record. */
export const DKIM_PLACEHOLDER = "; @MAILHOST_DKIM@";

/** `text` as a TXT value: quoted strings of at most 255 bytes each (RFC 1035). */
export function txtValue(text: string): string {
    const parts: string[] = [];
    for (let i = 0; i < text.length; i += 255) parts.push(`"${text.slice(i, i + 255)}"`);
    return parts.length > 1 ? `( ${parts.join(" ")} )` : parts[0];
}

/** The name of `hostname` relative to `domain` (`@` for the domain itself). */
export function relativeName(hostname: string, domain: string): string {
    return hostname === domain ? "@" : hostname.slice(0, -(domain.length + 1));
}

/** The records mailhost publishes, before the extra ones (also used for the registrar output). */
export function managedRecords(args: ZoneArgs): ZoneRecord[] {
    const host = relativeName(args.hostname, args.domain);
    const records: ZoneRecord[] = [
        { name: "@", type: "NS", value: `ns.${args.domain}.` },
        { name: "@", type: "MX", value: `10 ${args.hostname}.` },
        { name: "@", type: "TXT", value: "v=spf1 mx -all" },
        { name: "_dmarc", type: "TXT", value: `v=DMARC1; p=${args.dmarcPolicy}; rua=mailto:postmaster@${args.domain}` },
        { name: "ns", type: "A", value: args.address },
    ];
    if (host !== "ns") records.push({ name: host, type: "A", value: args.address });
    return records;
}

/** The zone file, with the serial as a placeholder filled in on the host. */
export function renderZone(args: ZoneArgs): string {
    const line = (r: ZoneRecord) => `${r.name.padEnd(15)} IN ${r.type.padEnd(5)} ${r.type === "TXT" ? txtValue(r.value) : r.value}`;
    return [
        `; Zone ${args.domain}, managed by mailhost: change the stack config, not this file.`,
        `$ORIGIN ${args.domain}.`,
        `$TTL 1H`,
        `@               IN SOA   ns.${args.domain}. hostmaster.${args.domain}. (`,
        `                         ${SERIAL_PLACEHOLDER} ; serial`,
        `                         1D ; refresh`,
        `                         1H ; retry`,
        `                         1W ; expire`,
        `                         3H ) ; minimum`,
        ...managedRecords(args).map(line),
        DKIM_PLACEHOLDER,
        ...args.extraRecords.map(line),
        "",
    ].join("\n");
}

/** named.conf: authoritative for the domain to everyone, recursive for the host only. */
export function renderNamedConf(platform: Platform, domain: string): string {
    const d = platform.dns;
    return [
        `// Managed by mailhost: change the stack config, not this file.`,
        `options {`,
        `    directory "${d.zoneDir}";`,
        `    dump-file "${d.dataDir}/cache_dump.db";`,
        `    statistics-file "${d.dataDir}/named_stats.txt";`,
        `    memstatistics-file "${d.dataDir}/named_mem_stats.txt";`,
        `    listen-on port 53 { any; };`,
        `    listen-on-v6 port 53 { any; };`,
        `    allow-query { any; };`,
        `    // Answers for our zone go to everyone; recursion only for the host itself`,
        `    // (Postfix resolves through it), never an open resolver.`,
        `    recursion yes;`,
        `    allow-recursion { localhost; };`,
        `    allow-query-cache { localhost; };`,
        `    allow-transfer { none; };`,
        `    dnssec-validation auto;`,
        `    version none;`,
        ...d.extraOptions.map((o) => `    ${o}`),
        `};`,
        ``,
        `zone "${domain}" IN {`,
        `    type master;`,
        `    file "${d.zoneDir}/${domain}.zone";`,
        `    allow-update { none; };`,
        `};`,
        ``,
    ].join("\n");
}

/** The step script: stage, set the serial, validate, swap, reload. */
export function renderDnsScript(platform: Platform, args: ZoneArgs, dkimRecordFile?: string): string {
    const d = platform.dns;
    const zoneFile = `${d.zoneDir}/${args.domain}.zone`;
    return stepScript(`DNS zone ${args.domain}`, [
        heredoc(`cat >"$mh_stage/named.conf"`, renderNamedConf(platform, args.domain)),
        heredoc(`cat >"$mh_stage/zone"`, renderZone(args)),
        dkimRecordFile
            ? `if [ -s ${shq(dkimRecordFile)} ]; then sed -i -e "/^${DKIM_PLACEHOLDER}\$/r ${dkimRecordFile}" -e "/^${DKIM_PLACEHOLDER}\$/d" "$mh_stage/zone"; fi`
            : `sed -i "/^${DKIM_PLACEHOLDER}\$/d" "$mh_stage/zone"`,
        `live=${shq(zoneFile)}`,
        `# The serial stays while the records stay, and grows (date-based) when they change.`,
        `old=$(awk '/; serial$/ {print $1; exit}' "$live" 2>/dev/null || true)`,
        `if [ -n "$old" ] && diff -q <(grep -v '; serial$' "$live") <(grep -v '; serial$' "$mh_stage/zone") >/dev/null; then`,
        `  serial=$old`,
        `else`,
        `  serial=$(date +%Y%m%d00)`,
        `  if [ -n "$old" ] && [ "$old" -ge "$serial" ]; then serial=$((old + 1)); fi`,
        `fi`,
        `sed -i "s/${SERIAL_PLACEHOLDER}/$serial/" "$mh_stage/zone"`,
        `mh_validate "DNS zone" named-checkzone ${shq(args.domain)} "$mh_stage/zone"`,
        `mh_validate "named.conf" named-checkconf "$mh_stage/named.conf"`,
        `changed=0`,
        `mh_put "$live" 0640 root:${d.group} <"$mh_stage/zone" && changed=1`,
        `mh_put ${shq(d.namedConf)} 0640 root:${d.group} <"$mh_stage/named.conf" && changed=1`,
        ...(d.conflictingService
            ? [`if systemctl is-enabled --quiet ${d.conflictingService} 2>/dev/null || systemctl is-active --quiet ${d.conflictingService}; then systemctl disable --now ${d.conflictingService}; fi`]
            : []),
        `mh_service ${d.service} "$changed"`,
    ]);
}

/** BIND, authoritative for the mail domain. */
export class Dns extends pulumi.ComponentResource {
    /** The step after which BIND serves the zone. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:dns:Dns", name, {}, opts);
        this.ready = hostStep(
            `${name}-zone`,
            {
                connection: args.connection,
                script: pulumi.output(args.address).apply((address) => renderDnsScript(args.platform, { ...args, address }, args.dkimRecordFile)),
            },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
