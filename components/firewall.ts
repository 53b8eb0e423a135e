/**
 * firewalld: enabled, with only the services the mail system uses opened permanently
 * in the default zone. Never flushes iptables. With `mailhost:clientCidrs`, the
 * mailbox and submission services are opened only to those networks (rich rules);
 * SMTP (25) and DNS stay open to the world, as an MX and a name server must.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostConnection, hostStep } from "./remote";
import { shq, stepScript } from "./shell";

export interface FirewallArgs {
    connection: HostConnection;
    /** The SSH port in use: it stays open whatever else changes. */
    sshPort: number;
    /** Limit mail clients (IMAP, POP3, submission) to these networks. */
    clientCidrs?: string[];
    /** `mailhost:acme` is set: open http (80) for the CA's HTTP-01 challenge. */
    acme?: boolean;
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Services every MX needs from everyone. */
export const PUBLIC_SERVICES = ["dns", "smtp"];
/** Services for the organisation's mail clients. */
export const CLIENT_SERVICES = ["imap", "imaps", "pop3", "pop3s", "smtp-submission", "smtps"];

/** What the firewall should allow: plain services, and rich rules when clients are limited. */
export function firewallPlan(args: Pick<FirewallArgs, "sshPort" | "clientCidrs" | "acme">): { services: string[]; ports: string[]; richRules: string[] } {
    const limited = args.clientCidrs !== undefined;
    const services = [...PUBLIC_SERVICES, ...(args.acme ? ["http"] : []), ...(limited ? [] : CLIENT_SERVICES), ...(args.sshPort === 22 ? ["ssh"] : [])];
    const ports = args.sshPort === 22 ? [] : [`${args.sshPort}/tcp`];
    const richRules = limited
        ? (args.clientCidrs ?? []).flatMap((cidr) =>
              CLIENT_SERVICES.map((svc) => `rule family="${cidr.includes(":") ? "ipv6" : "ipv4"}" source address="${cidr}" service name="${svc}" accept`),
          )
        : [];
    return { services: services.sort(), ports, richRules };
}

/**
 * The step script. It remembers what it opened (/var/lib/mailhost/firewall.*) so that
 * a service dropped from the plan is closed again, and reloads only on a change. Each
 * firewall-cmd call costs ~0.2 s of Python start-up, so all additions of one kind go in
 * one call (and all removals in another: firewall-cmd refuses to mix options).
 */
export function renderFirewallScript(args: Pick<FirewallArgs, "sshPort" | "clientCidrs" | "acme">): string {
    const plan = firewallPlan(args);
    const kinds: [string, string[], string][] = [
        ["service", plan.services, "services"],
        ["port", plan.ports, "ports"],
        ["rich-rule", plan.richRules, "rich-rules"],
    ];
    return stepScript("firewall", [
        `mh_service firewalld 0`,
        `changed=0`,
        `# sync KIND LISTNAME WANTED...: in the default zone, add what is missing and remove`,
        `# what we added before and no longer want.`,
        `sync() {`,
        `  local kind=$1 list=$2 item have state=/var/lib/mailhost/firewall.$1 add=() remove=()`,
        `  shift 2`,
        `  have=$(firewall-cmd --permanent --list-"$list" | if [ "$kind" = rich-rule ]; then cat; else tr ' ' '\\n'; fi)`,
        `  for item in "$@"; do`,
        `    if ! grep -qxF -- "$item" <<<"$have"; then add+=("--add-$kind=$item"); mh_log "opened $kind $item"; fi`,
        `  done`,
        `  if [ -f "$state" ]; then`,
        `    while IFS= read -r item; do`,
        `      [ -n "$item" ] || continue`,
        `      if ! printf '%s\\n' "$@" | grep -qxF -- "$item" && grep -qxF -- "$item" <<<"$have"; then`,
        `        remove+=("--remove-$kind=$item"); mh_log "closed $kind $item"`,
        `      fi`,
        `    done <"$state"`,
        `  fi`,
        `  if [ "\${#add[@]}" -gt 0 ]; then firewall-cmd --permanent "\${add[@]}" >/dev/null; changed=1; fi`,
        `  if [ "\${#remove[@]}" -gt 0 ]; then firewall-cmd --permanent "\${remove[@]}" >/dev/null; changed=1; fi`,
        `  if [ "$#" -gt 0 ]; then printf '%s\\n' "$@"; fi | mh_put "$state" 0600 root:root || true`,
        `}`,
        ...kinds.map(([kind, items, list]) => `sync ${kind} ${list} ${items.map(shq).join(" ")}`),
        `if [ "$changed" = 1 ]; then firewall-cmd --reload >/dev/null; mh_log "firewall reloaded"; fi`,
    ]);
}

/** The host firewall. */
export class Firewall extends pulumi.ComponentResource {
    /** The step after which the firewall is as planned. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:firewall:Firewall", name, {}, opts);
        this.ready = hostStep(`${name}-rules`, { connection: args.connection, script: renderFirewallScript(args) }, { parent: this, dependsOn: args.dependsOn });
        this.registerOutputs({});
    }
}
