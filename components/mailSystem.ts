/**
 * The whole mail system on one host: packages and host name, firewall, TLS, DNS,
 * Dovecot, Postfix, the mail users and the aliases, in dependency order.
 */
import * as pulumi from "@pulumi/pulumi";
import { Acme } from "./acme";
import { Aliases } from "./aliases";
import { MailConfig } from "./config";
import { Dkim } from "./dkim";
import { Dns } from "./dns";
import { Dovecot } from "./dovecot";
import { Fail2ban } from "./fail2ban";
import { Firewall } from "./firewall";
import { Host } from "./host";
import { platformFor } from "./platform";
import { Postfix } from "./postfix";
import { HostConnection } from "./remote";
import { Tls } from "./tls";
import { MailUser } from "./users";

export interface MailSystemArgs {
    /** The validated stack config. */
    config: MailConfig;
    /** How to reach the host. */
    connection: HostConnection;
    /** The host's public address (published in the zone). */
    address: pulumi.Input<string>;
}

export class MailSystem extends pulumi.ComponentResource {
    /** SHA-256 fingerprint of the server certificate. */
    public readonly tlsFingerprint: pulumi.Output<string>;
    /** The DKIM public record (TXT of mail._domainkey). */
    public readonly dkimRecord: pulumi.Output<string>;

    constructor(name: string, args: MailSystemArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:mailSystem:MailSystem", name, {}, opts);
        const cfg = args.config;
        const platform = platformFor(cfg.os);
        const common = { connection: args.connection, platform };
        const child = { parent: this };

        const acme = cfg.acme !== undefined;
        const host = new Host(`${name}-host`, { ...common, hostname: cfg.hostname, address: args.address, acme, fail2ban: cfg.fail2ban !== false }, child);
        const ready = [host.ready];
        const firewall = new Firewall(`${name}-firewall`, { connection: args.connection, sshPort: args.connection.port, clientCidrs: cfg.clientCidrs, acme, dependsOn: ready }, child);
        const tls = new Tls(`${name}-tls`, { ...common, hostname: cfg.hostname, provided: cfg.tls, acme, dependsOn: ready }, child);
        const dkim = new Dkim(`${name}-dkim`, { ...common, domain: cfg.domain, trustedNetworks: cfg.trustedNetworks, dependsOn: ready }, child);
        const dns = new Dns(
            `${name}-dns`,
            {
                ...common,
                domain: cfg.domain,
                hostname: cfg.hostname,
                address: args.address,
                dmarcPolicy: cfg.dmarcPolicy,
                extraRecords: cfg.extraRecords,
                dkimRecordFile: dkim.recordFile,
                dependsOn: [dkim.ready],
            },
            child,
        );
        const dovecot = new Dovecot(
            `${name}-dovecot`,
            {
                ...common,
                domain: cfg.domain,
                certFile: tls.certFile,
                keyFile: tls.keyFile,
                allowPlaintextAuth: cfg.allowPlaintextAuth,
                extraSettings: cfg.dovecotSettings,
                dependsOn: [tls.ready],
            },
            child,
        );
        const postfix = new Postfix(
            `${name}-postfix`,
            {
                ...common,
                domain: cfg.domain,
                hostname: cfg.hostname,
                trustedNetworks: cfg.trustedNetworks,
                certFile: tls.certFile,
                keyFile: tls.keyFile,
                extraSettings: cfg.postfixSettings,
                milters: platform.dkimSocket.postfix,
                dependsOn: [tls.ready, dovecot.ready, dkim.ready],
            },
            child,
        );
        const users = cfg.users.map(
            (u) =>
                new MailUser(
                    `${name}-user-${u.name}`,
                    { ...common, userName: u.name, password: u.password, domain: cfg.domain, purgeOnDelete: u.purgeOnDelete, dependsOn: [postfix.ready] },
                    child,
                ),
        );
        new Aliases(
            `${name}-aliases`,
            { ...common, domain: cfg.domain, aliases: cfg.aliases, userNames: cfg.users.map((u) => u.name), dependsOn: [postfix.ready, ...users] },
            child,
        );
        if (cfg.fail2ban) {
            new Fail2ban(
                `${name}-fail2ban`,
                { ...common, limits: cfg.fail2ban, trustedNetworks: cfg.trustedNetworks, dependsOn: [firewall.ready, postfix.ready, dovecot.ready] },
                child,
            );
        }
        // The CA's certificate replaces the self-signed one once DNS, port 80 and both daemons are up.
        const issued = cfg.acme
            ? new Acme(
                  `${name}-acme`,
                  {
                      ...common,
                      hostname: cfg.hostname,
                      address: args.address,
                      acme: cfg.acme,
                      certFile: tls.certFile,
                      keyFile: tls.keyFile,
                      dependsOn: [dns.ready, firewall.ready, postfix.ready, dovecot.ready],
                  },
                  child,
              )
            : undefined;
        this.tlsFingerprint = issued?.fingerprint ?? tls.fingerprint;
        this.dkimRecord = dkim.record;
        this.registerOutputs({ tlsFingerprint: this.tlsFingerprint, dkimRecord: this.dkimRecord });
    }
}
