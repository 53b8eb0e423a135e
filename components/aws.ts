/**
 * The AWS host: the newest RHEL 8 AMI, a security group (SSH from the admin networks
 * only, mail and DNS from everywhere), a key pair, the instance with cloud-init user
 * data setting its FQDN, and an Elastic IP (optionally with its PTR record).
 */
import type * as awsTypes from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { RawConfig } from "./config";

/** Red Hat's AWS account, owner of the official RHEL AMIs. */
export const RED_HAT_OWNER = "309956199498";

export interface AwsHostArgs {
    /** `mailhost:aws`. */
    aws: NonNullable<RawConfig["aws"]>;
    /** Fully qualified host name. */
    hostname: string;
    /** `mailhost:acme` is set: the CA must reach port 80 (HTTP-01). */
    acme?: boolean;
}

/** Ports the world may reach (SSH is limited to `adminCidrs`). */
export const PUBLIC_PORTS: { port: number; protocol: "tcp" | "udp"; what: string }[] = [
    { port: 25, protocol: "tcp", what: "SMTP" },
    { port: 53, protocol: "tcp", what: "DNS" },
    { port: 53, protocol: "udp", what: "DNS" },
    { port: 110, protocol: "tcp", what: "POP3 (STARTTLS)" },
    { port: 143, protocol: "tcp", what: "IMAP (STARTTLS)" },
    { port: 465, protocol: "tcp", what: "submission (TLS)" },
    { port: 587, protocol: "tcp", what: "submission (STARTTLS)" },
    { port: 993, protocol: "tcp", what: "IMAPS" },
    { port: 995, protocol: "tcp", what: "POP3S" },
];

/** Opened too with `mailhost:acme`: certbot answers the CA's HTTP-01 challenge there. */
export const ACME_PORT = { port: 80, protocol: "tcp" as const, what: "ACME HTTP-01 (certbot, during issuance and renewal)" };

/** cloud-init user data: the host's FQDN, kept across reboots. */
export function renderUserData(hostname: string): string {
    return `#cloud-config\n${yaml.dump(
        { hostname: hostname.split(".")[0], fqdn: hostname, prefer_fqdn_over_hostname: true, preserve_hostname: false, manage_etc_hosts: false },
        { sortKeys: true, lineWidth: -1 },
    )}`;
}

/** Told in the outputs: why mail may not leave the instance yet. */
export const PORT25_NOTICE =
    "EC2 blocks outbound port 25 by default: until the account owner files AWS's request to remove email sending " +
    "limitations, this server receives mail but cannot deliver to other servers. Submission (587/465) from clients works.";

export class AwsHost extends pulumi.ComponentResource {
    /** The Elastic IP. */
    public readonly publicIp: pulumi.Output<string>;
    /** The login user of the RHEL AMI (password-less sudo). */
    public readonly user = "ec2-user";

    constructor(name: string, args: AwsHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:aws:AwsHost", name, {}, opts);
        // Loaded here only: @pulumi/aws is large and SSH-only stacks never need it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const aws: typeof awsTypes = require("@pulumi/aws");
        const a = args.aws;
        const provider = a.region ? new aws.Provider(`${name}-provider`, { region: a.region }, { parent: this }) : undefined;
        const child = { parent: this, provider };

        const ami = aws.ec2.getAmiOutput(
            {
                owners: [RED_HAT_OWNER],
                mostRecent: true,
                filters: [
                    { name: "name", values: ["RHEL-8.*_HVM-*-x86_64-*-Hourly2-GP*"] },
                    { name: "architecture", values: ["x86_64"] },
                    { name: "virtualization-type", values: ["hvm"] },
                ],
            },
            { parent: this, provider },
        );
        const subnet = a.subnetId ? aws.ec2.getSubnetOutput({ id: a.subnetId }, { parent: this, provider }) : undefined;
        const sg = new aws.ec2.SecurityGroup(
            `${name}-sg`,
            {
                description: `mailhost ${args.hostname}: SSH from admins, mail and DNS from everywhere`,
                vpcId: subnet?.vpcId,
                ingress: [
                    { description: "SSH (admins)", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: a.adminCidrs.filter((c) => !c.includes(":")), ipv6CidrBlocks: a.adminCidrs.filter((c) => c.includes(":")) },
                    ...[...PUBLIC_PORTS, ...(args.acme ? [ACME_PORT] : [])].map((p) => ({ description: p.what, protocol: p.protocol, fromPort: p.port, toPort: p.port, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] })),
                ],
                egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
                tags: { Name: `${name}-mailhost` },
            },
            child,
        );
        const key = new aws.ec2.KeyPair(`${name}-key`, { publicKey: a.sshPublicKey }, child);
        const instance = new aws.ec2.Instance(
            `${name}-instance`,
            {
                ami: ami.id,
                instanceType: a.instanceType,
                subnetId: a.subnetId,
                vpcSecurityGroupIds: [sg.id],
                keyName: key.keyName,
                userData: renderUserData(args.hostname),
                rootBlockDevice: { volumeSize: 20, volumeType: "gp3", encrypted: true },
                metadataOptions: { httpTokens: "required" },
                tags: { Name: args.hostname },
            },
            { ...child, ignoreChanges: ["ami"] },
        );
        const eip = new aws.ec2.Eip(`${name}-eip`, { domain: "vpc", instance: instance.id, tags: { Name: args.hostname } }, child);
        if (a.reverseDns) {
            // AWS checks that the name resolves to the address first: opt-in, see README.
            new aws.ec2.EipDomainName(`${name}-ptr`, { allocationId: eip.allocationId, domainName: args.hostname }, child);
        }
        this.publicIp = eip.publicIp;
        this.registerOutputs({ publicIp: this.publicIp });
    }
}
