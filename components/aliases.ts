/**
 * /etc/aliases: the distribution's system aliases are kept (and, where the
 * distribution lacks the chapter's `bin: root` and friends, added); the aliases of
 * `mailhost:aliases` live in a marked block. `newaliases` runs only when it changed.
 */
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./platform";
import { POSTFIX_MAPS } from "./postfix";
import { HostConnection, hostStep } from "./remote";
import { heredoc, shq, stepScript } from "./shell";

export interface AliasesArgs {
    connection: HostConnection;
    platform: Platform;
    domain: string;
    /** alias -> targets, sorted by alias. */
    aliases: [string, string[]][];
    /** Mail user names: an alias whose targets are users may be used as their sender address. */
    userNames: string[];
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

export const BLOCK_BEGIN = "# BEGIN mailhost: managed from the stack config (mailhost:aliases), edits here are replaced";
export const BLOCK_END = "# END mailhost";

/** The managed block of /etc/aliases. */
export function renderAliasesBlock(platform: Platform, aliases: [string, string[]][]): string {
    const ours = new Map(aliases);
    const system = Object.entries(platform.missingSystemAliases).filter(([k]) => !ours.has(k));
    return [
        BLOCK_BEGIN,
        ...system.map(([k, v]) => `${k}: ${v}`),
        ...aliases.map(([k, targets]) => `${k}: ${targets.join(", ")}`),
        BLOCK_END,
        "",
    ].join("\n");
}

/** alias address -> the users allowed to send as it (aliases that reach users). */
export function renderAliasSenders(domain: string, aliases: [string, string[]][], userNames: string[]): string {
    const users = new Set(userNames);
    const lines = aliases
        .map(([alias, targets]) => [alias, targets.filter((t) => users.has(t))] as const)
        .filter(([, owners]) => owners.length > 0)
        .map(([alias, owners]) => `${alias}@${domain} ${owners.join(",")}`);
    return lines.length ? `${lines.join("\n")}\n` : "";
}

export function renderAliasesScript(platform: Platform, args: Pick<AliasesArgs, "domain" | "aliases" | "userNames">): string {
    const keys = [...new Set([...args.aliases.map(([k]) => k), ...Object.keys(platform.missingSystemAliases)])];
    return stepScript("aliases", [
        heredoc(`cat >"$mh_stage/block"`, renderAliasesBlock(platform, args.aliases)),
        `# Keep every line outside our block, except a definition of a name the block defines.`,
        `keys=${shq(keys.join(" "))}`,
        `awk -v keys="$keys" -v begin=${shq(BLOCK_BEGIN)} -v end=${shq(BLOCK_END)} '`,
        `  BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) ours[k[i]] = 1 }`,
        `  $0 == begin { skip = 1; next }`,
        `  $0 == end { skip = 0; next }`,
        `  skip { next }`,
        `  { name = $1; sub(/:$/, "", name); if (name in ours && $0 !~ /^[ \\t]*#/) next; print }`,
        `' /etc/aliases >"$mh_stage/aliases" 2>/dev/null || true`,
        `cat "$mh_stage/block" >>"$mh_stage/aliases"`,
        `mh_validate "aliases" postalias -c /etc/postfix -o -p "hash:$mh_stage/aliases"`,
        `if mh_put /etc/aliases 0644 root:root <"$mh_stage/aliases" || ! [ /etc/aliases.db -nt /etc/aliases ]; then newaliases; fi`,
        heredoc(`cat >"$mh_stage/senders"`, renderAliasSenders(args.domain, args.aliases, args.userNames)),
        `if mh_put ${POSTFIX_MAPS.aliasSenders} 0644 root:root <"$mh_stage/senders"; then postmap hash:${POSTFIX_MAPS.aliasSenders}; fi`,
    ]);
}

/** The aliases of the mail domain. */
export class Aliases extends pulumi.ComponentResource {
    constructor(name: string, args: AliasesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:aliases:Aliases", name, {}, opts);
        hostStep(
            `${name}-aliases`,
            { connection: args.connection, script: renderAliasesScript(args.platform, args) },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
