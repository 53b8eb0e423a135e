/**
 * Test harness: runs the mailhost program under Pulumi's mocks in a child process and
 * returns every resource it registered, in registration order (which respects
 * dependencies), with the inputs secrets unwrapped and the secret ones named.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

export interface ProgramRequest {
    /** mailhost config keys (without namespace) -> value as `pulumi config` stores it. */
    config: Record<string, string>;
    /** Keys set with --secret. */
    secretKeys: string[];
    stack: string;
}

export interface RegisteredResource {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    /** Top-level inputs that were marked secret. */
    secretInputs: string[];
}

export interface ProgramRun {
    resources: RegisteredResource[];
    outputs: Record<string, unknown>;
    urns?: string[];
    /** Set when the program failed (e.g. invalid config). */
    error?: string;
}

export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

/** Runs the program once with this config. */
export function runProgram(config: Record<string, unknown>, secretKeys: string[] = [], stack = "test"): Promise<ProgramRun> {
    const req: ProgramRequest = {
        config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
        secretKeys,
        stack,
    };
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            [path.join(__dirname, "child.js")],
            { env: { ...process.env, MAILHOST_PROGRAM_REQUEST: JSON.stringify(req) }, maxBuffer: 256 * 1024 * 1024 },
            (err, stdout, stderr) => {
                try {
                    resolve(JSON.parse(stdout) as ProgramRun);
                } catch {
                    reject(new Error(`program run failed: ${err?.message ?? ""}\n${stderr}`));
                }
            },
        );
    });
}

/** The config of a stack file (Pulumi.<stack>.yaml), as `pulumi config` would pass it. */
export function readStackConfig(stack: string): Record<string, unknown> {
    const doc = yaml.load(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^mailhost:/, ""), v]));
}

/** The remote commands of a run, in registration order. */
export function remoteCommands(run: ProgramRun): RegisteredResource[] {
    return run.resources.filter((r) => r.type === "command:remote:Command" || r.type === "command:remote:CopyToRemote");
}
