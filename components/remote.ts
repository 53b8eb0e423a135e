/**
 * The one way mailhost runs anything on the host: a `command:remote:Command` whose
 * command string is constant (`bash -s`, with sudo when not root) and whose script
 * arrives on stdin. The command provider re-runs `create` whenever stdin changes, so
 * every script is written to be idempotent: a re-run with the same script changes
 * nothing on the host.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { shq } from "./shell";

/** How to reach the host. */
export interface HostConnection {
    /** Address or name of the host. */
    host: pulumi.Input<string>;
    /** SSH port. */
    port: number;
    /** Login user: root, or a user with password-less sudo (ec2-user on AWS). */
    user: string;
    /** Secret private key (PEM or OpenSSH). */
    privateKey: pulumi.Input<string>;
    /**
     * How many times to retry connecting: a fresh cloud instance needs a while before
     * sshd answers.
     */
    dialErrorLimit?: number;
}

export interface HostStepArgs {
    /** Where to run. */
    connection: HostConnection;
    /** The complete bash script (from `stepScript`), sent on stdin. */
    script: pulumi.Input<string>;
    /** A short bash script run when the resource is removed (no secrets: it is a command string). */
    deleteScript?: string;
    /** The script holds a secret: store it encrypted and keep the provider from logging output. */
    secret?: boolean;
}

/** The command string that runs a script read from stdin, as root. */
export function runAsRoot(user: string): string {
    return user === "root" ? "bash -s" : "sudo -n bash -s";
}

/**
 * The command string that runs `script` as root when the resource is deleted. The
 * provider feeds the last create script to delete on stdin too: it is ignored.
 */
export function deleteCommand(user: string, script: string): string {
    const bash = user === "root" ? "bash" : "sudo -n bash";
    return `${bash} -c ${shq(script)} </dev/null`;
}

/** Registers one remote step. */
export function hostStep(name: string, args: HostStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const c = args.connection;
    return new command.remote.Command(
        name,
        {
            connection: {
                host: c.host,
                port: c.port,
                user: c.user,
                privateKey: c.privateKey,
                dialErrorLimit: c.dialErrorLimit ?? 10,
                perDialTimeout: 15,
            },
            create: runAsRoot(c.user),
            delete: args.deleteScript === undefined ? undefined : deleteCommand(c.user, args.deleteScript),
            stdin: args.secret ? pulumi.secret(args.script) : args.script,
            addPreviousOutputInEnv: false,
            logging: args.secret ? "none" : "stdoutAndStderr",
        },
        {
            ...opts,
            additionalSecretOutputs: args.secret ? ["stdout", "stderr"] : undefined,
        },
    );
}

/**
 * The value a step printed on a line `<prefix><value>` of its stdout (public facts
 * such as a fingerprint; never use it for secrets).
 */
export function reportedValue(step: command.remote.Command, prefix: string): pulumi.Output<string> {
    return pulumi.unsecret(step.stdout).apply(
        (out) =>
            (out ?? "")
                .split("\n")
                .find((l) => l.startsWith(prefix))
                ?.slice(prefix.length) ?? "",
    );
}
