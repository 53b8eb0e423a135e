/**
 * The program: the host (created on AWS, or an existing one over SSH), the mail
 * system on it, and what the stack outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { AwsHost } from "./aws";
import { MailConfig } from "./config";
import { MailSystem } from "./mailSystem";
import { ClientSettings, RegistrarRecords, renderClientSettings, renderRegistrarRecords } from "./outputs";
import { HostConnection } from "./remote";

export interface ManagedStack {
    publicIp: pulumi.Output<string>;
    dnsRecords: pulumi.Output<RegistrarRecords>;
    clientSettings: ClientSettings;
    sshCommand: pulumi.Output<string>;
    tlsFingerprint: pulumi.Output<string>;
    warnings: string[];
}

/** Opt-outs of the secure defaults, each told as a warning. */
export function securityWarnings(config: MailConfig): string[] {
    const w: string[] = [];
    if (config.allowPlaintextAuth) {
        w.push("mailhost:allowPlaintextAuth is true: passwords are accepted without TLS (the chapter's lab setup). Do not use it on a public network.");
    }
    if (config.fail2ban === false) {
        w.push("mailhost:fail2ban is false: addresses that keep guessing passwords on SMTP, IMAP and POP3 are never banned.");
    }
    return w;
}

export function managedStack(config: MailConfig): ManagedStack {
    let connection: HostConnection;
    let address: pulumi.Output<string>;
    if (config.target === "aws") {
        const host = new AwsHost("mailhost", { aws: config.aws!, hostname: config.hostname, acme: config.acme !== undefined });
        address = host.publicIp;
        connection = { host: host.publicIp, port: 22, user: host.user, privateKey: config.sshPrivateKey, dialErrorLimit: 60 };
    } else {
        const ssh = config.ssh!;
        address = pulumi.output(config.publicIp!);
        connection = { host: ssh.host, port: ssh.port, user: ssh.user, privateKey: config.sshPrivateKey };
    }
    const warnings = securityWarnings(config);
    warnings.forEach((w) => pulumi.log.warn(w));
    const system = new MailSystem("mailhost", { config, connection, address });
    return {
        publicIp: address,
        dnsRecords: pulumi.all([address, system.dkimRecord]).apply(([a, dkim]) =>
            renderRegistrarRecords({ domain: config.domain, hostname: config.hostname, address: a, dmarcPolicy: config.dmarcPolicy, extraRecords: config.extraRecords }, dkim),
        ),
        clientSettings: renderClientSettings(config.hostname, config.allowPlaintextAuth),
        sshCommand: pulumi.interpolate`ssh -p ${connection.port} ${connection.user}@${connection.host}`,
        tlsFingerprint: system.tlsFingerprint,
        warnings,
    };
}
