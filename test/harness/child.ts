/**
 * Runs the mailhost program once under Pulumi's mocks (no engine, no cloud) and prints
 * what it registered as JSON on stdout. Started by `runProgram` in a fresh process,
 * because the Pulumi runtime is process-global.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import type { ProgramRequest, ProgramRun, RegisteredResource } from "./program";

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

function isSecret(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Secrets unwrapped; the names of the top-level inputs that were secret. */
function unwrap(inputs: Record<string, unknown>): { plain: Record<string, unknown>; secret: string[] } {
    const deep = (v: unknown): unknown =>
        isSecret(v) ? deep(v.value) : Array.isArray(v) ? v.map(deep) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)])) : v;
    const secret = Object.entries(inputs)
        .filter(([, v]) => isSecret(v))
        .map(([k]) => k);
    return { plain: deep(inputs) as Record<string, unknown>, secret };
}

async function main(): Promise<void> {
    const req: ProgramRequest = JSON.parse(process.env.MAILHOST_PROGRAM_REQUEST ?? "{}");
    const resources: RegisteredResource[] = [];
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(req.config).map(([k, v]) => [`mailhost:${k}`, v])),
        req.secretKeys.map((k) => `mailhost:${k}`),
    );
    pulumi.runtime.setMocks(
        {
            newResource(args) {
                const { plain, secret } = unwrap(args.inputs);
                resources.push({ type: args.type, name: args.name, inputs: plain, secretInputs: secret });
                const state: Record<string, unknown> = { ...args.inputs };
                if (args.type === "command:remote:Command") Object.assign(state, { stdout: "", stderr: "" });
                if (args.type === "aws:ec2/eip:Eip") Object.assign(state, { publicIp: "203.0.113.10", allocationId: "eipalloc-1" });
                if (args.type === "aws:ec2/keyPair:KeyPair") Object.assign(state, { keyName: args.name });
                return { id: `${args.name}-id`, state };
            },
            call(args) {
                if (args.token === "aws:ec2/getAmi:getAmi") return { id: "ami-0rhel8", name: "RHEL-8.10.0_HVM-20240101-x86_64-0-Hourly2-GP3" };
                if (args.token === "aws:ec2/getSubnet:getSubnet") return { id: args.inputs.id, vpcId: "vpc-1" };
                return args.inputs;
            },
        },
        "mailhost",
        req.stack,
        false,
    );
    const run: ProgramRun = { resources, outputs: {} };
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require(path.join(__dirname, "..", "..", "index"));
        for (const [k, v] of Object.entries(program)) {
            run.outputs[k] = pulumi.Output.isInstance(v) ? await new Promise((resolve) => (v as pulumi.Output<unknown>).apply(resolve)) : v;
        }
        await pulumi.runtime.disconnect();
        const monitor = pulumi.runtime.getMonitor() as unknown as { resources: Map<string, unknown> };
        run.urns = [...monitor.resources.keys()];
    } catch (e) {
        run.error = e instanceof Error ? e.message : String(e);
    }
    process.stdout.write(JSON.stringify(run));
}

void main();
