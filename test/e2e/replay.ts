/**
 * Replays a mock run of the program against a real host, the way the command provider
 * (@pulumi/command remote.Command, v1) would during `pulumi up`:
 *
 * - a resource that is new runs `create` with its `stdin`;
 * - a resource whose inputs changed runs `update`, or `create` when there is no
 *   `update`; a change of `triggers` replaces it instead: `delete` (with the old
 *   inputs, including the old stdin) then `create`;
 * - a resource that is gone runs its `delete` (old inputs), after all creates and
 *   updates, in reverse registration order;
 * - an unchanged resource runs nothing.
 *
 * Each command runs over a real SSH session (the system `ssh`) to the connection in
 * the resource's inputs, with stdin fed as the provider does. A failing command stops
 * the apply; the state keeps the old inputs of what failed, as Pulumi does.
 *
 * What it does not reproduce: the engine's parallelism (commands run one at a time, in
 * registration order, which respects dependencies), preview, and retries on dial errors.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ProgramRun, RegisteredResource } from "../harness/program";

/** What Pulumi's state would hold: the inputs of each remote command, by name. */
export type ReplayState = Record<string, Record<string, unknown>>;

export interface ExecutedCommand {
    resource: string;
    operation: "create" | "update" | "delete";
    seconds: number;
    code: number;
    stdout: string;
    stderr: string;
}

export interface ApplyResult {
    state: ReplayState;
    executed: ExecutedCommand[];
    /** The failed command, if any. */
    failed?: ExecutedCommand;
}

interface Connection {
    host: string;
    port?: number;
    user?: string;
    privateKey?: string;
}

/** Runs `command` over SSH as the provider does, `stdin` on its standard input. */
export async function runRemote(conn: Connection, command: string, stdin: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailhost-replay-"));
    const key = path.join(dir, "key");
    fs.writeFileSync(key, conn.privateKey ?? "", { mode: 0o600 });
    try {
        return await new Promise((resolve, reject) => {
            const child = spawn(
                "ssh",
                [
                    "-i", key, "-p", String(conn.port ?? 22),
                    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes",
                    `${conn.user ?? "root"}@${conn.host}`, command,
                ],
                { stdio: ["pipe", "pipe", "pipe"] },
            );
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("error", reject);
            child.on("close", (code) => resolve({ code: code ?? 255, stdout, stderr }));
            child.stdin.on("error", () => undefined);
            child.stdin.end(stdin && stdin.length > 0 ? stdin : undefined);
        });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function same(a: unknown, b: unknown): boolean {
    return JSON.stringify(a) === JSON.stringify(b);
}

function remoteCommands(run: ProgramRun): RegisteredResource[] {
    return run.resources.filter((r) => r.type === "command:remote:Command");
}

/** Applies `run` on top of `previous` (undefined: a fresh stack). */
export async function apply(run: ProgramRun, previous: ReplayState = {}): Promise<ApplyResult> {
    if (run.error) throw new Error(`the program failed: ${run.error}`);
    const state: ReplayState = { ...previous };
    const executed: ExecutedCommand[] = [];
    const exec = async (resource: string, operation: ExecutedCommand["operation"], inputs: Record<string, unknown>, command: unknown) => {
        if (typeof command !== "string") return true; // nothing to run for this operation
        const started = Date.now();
        const r = await runRemote(inputs.connection as Connection, command, inputs.stdin as string | undefined);
        const done: ExecutedCommand = { resource, operation, seconds: (Date.now() - started) / 1000, ...r };
        executed.push(done);
        return r.code === 0;
    };
    const fail = (): ApplyResult => ({ state, executed, failed: executed[executed.length - 1] });

    const current = remoteCommands(run);
    for (const r of current) {
        const old = previous[r.name];
        if (old && same(old, r.inputs)) continue;
        if (!old) {
            if (!(await exec(r.name, "create", r.inputs, r.inputs.create))) return fail();
        } else if (!same(old.triggers, r.inputs.triggers)) {
            if (!(await exec(r.name, "delete", old, old.delete))) return fail();
            delete state[r.name];
            if (!(await exec(r.name, "create", r.inputs, r.inputs.create))) return fail();
        } else if (!(await exec(r.name, "update", r.inputs, r.inputs.update ?? r.inputs.create))) {
            return fail();
        }
        state[r.name] = r.inputs;
    }
    const names = new Set(current.map((r) => r.name));
    for (const name of Object.keys(previous).reverse()) {
        if (names.has(name)) continue;
        if (!(await exec(name, "delete", previous[name], previous[name].delete))) return fail();
        delete state[name];
    }
    return { state, executed };
}
