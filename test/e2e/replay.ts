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
 * Like the engine (whose `--parallel` is unbounded by default), a command starts as soon
 * as every command it depends on (its `dependsOn` and the resources its inputs come
 * from, followed through components) has finished, so independent steps run at the same
 * time over separate SSH sessions. Each command runs over a real SSH session (the system
 * `ssh`) to the connection in the resource's inputs, with stdin fed as the provider does.
 * A failing command stops the apply: commands already running finish, no new one starts,
 * and the state keeps the old inputs of what failed, as Pulumi does.
 *
 * Like the provider, a connection that fails before the command starts (refused, or
 * closed by sshd during the handshake, as its MaxStartups does under many parallel
 * logins) is dialled again, up to the connection's `dialErrorLimit` (default 10) times,
 * with the back-off of Pulumi's `retry.Until` (0.1 s growing 1.5x to at most 5 s).
 *
 * What it does not reproduce: parallel deletes (they run one at a time) and preview.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ProgramRun, RegisteredResource } from "../harness/program";
import type { GraphRun } from "../unit/run";

/** What Pulumi's state would hold: the inputs of each remote command, by name. */
export type ReplayState = Record<string, Record<string, unknown>>;

export interface ExecutedCommand {
    resource: string;
    operation: "create" | "update" | "delete";
    seconds: number;
    /** When it started and ended (ms since the epoch): parallel commands overlap. */
    startedAt: number;
    endedAt: number;
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
    dialErrorLimit?: number;
}

/** What ssh says when it could not connect (exit 255 before the remote command ran). */
const DIAL_ERROR = /^(kex_exchange_identification: |ssh: connect to host .*: Connection (refused|timed out)|Connection (closed|reset) by \S+ port \d+\s*$)/m;

/** Runs `command` over SSH as the provider does, `stdin` on its standard input, dialling again on connection errors. */
export async function runRemote(conn: Connection, command: string, stdin: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
    const limit = conn.dialErrorLimit ?? 10;
    for (let dials = 1, delay = 100; ; dials++, delay = Math.min(delay * 1.5, 5000)) {
        const r = await sshOnce(conn, command, stdin);
        if (r.code !== 255 || !DIAL_ERROR.test(r.stderr) || (limit >= 0 && dials > limit)) return r;
        await new Promise((resolve) => setTimeout(resolve, delay));
    }
}

async function sshOnce(conn: Connection, command: string, stdin: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
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

/**
 * For each remote command, the remote commands it waits for: its dependencies, and
 * through any other resource (a component, say) that one's children and dependencies.
 */
export function commandDependencies(run: GraphRun): Map<string, string[]> {
    const commands = new Set(remoteCommands(run).map((r) => r.name));
    const byUrn = new Map(run.graph.nodes.map((n) => [n.urn, n]));
    const children = new Map<string, string[]>();
    for (const n of run.graph.nodes) children.set(n.parent, [...(children.get(n.parent) ?? []), n.urn]);
    const out = new Map<string, string[]>();
    for (const n of run.graph.nodes) {
        if (!commands.has(n.name)) continue;
        const found = new Set<string>();
        const seen = new Set<string>();
        const walk = (urn: string) => {
            const d = byUrn.get(urn);
            if (!d || seen.has(urn)) return;
            seen.add(urn);
            if (commands.has(d.name)) {
                found.add(d.name);
                return;
            }
            for (const x of [...d.dependencies, ...(children.get(urn) ?? [])]) walk(x);
        };
        for (const dep of n.dependencies) walk(dep);
        out.set(n.name, [...found].sort());
    }
    return out;
}

/** Applies `run` on top of `previous` (undefined: a fresh stack). */
export async function apply(run: GraphRun, previous: ReplayState = {}): Promise<ApplyResult> {
    if (run.error) throw new Error(`the program failed: ${run.error}`);
    const state: ReplayState = { ...previous };
    const executed: ExecutedCommand[] = [];
    let failed: ExecutedCommand | undefined;
    const exec = async (resource: string, operation: ExecutedCommand["operation"], inputs: Record<string, unknown>, command: unknown) => {
        if (failed) return false; // the engine starts nothing new after a failure
        if (typeof command !== "string") return true; // nothing to run for this operation
        const started = Date.now();
        const r = await runRemote(inputs.connection as Connection, command, inputs.stdin as string | undefined);
        const endedAt = Date.now();
        const done: ExecutedCommand = { resource, operation, seconds: (endedAt - started) / 1000, startedAt: started, endedAt, ...r };
        executed.push(done);
        if (r.code !== 0) failed ??= done;
        return r.code === 0;
    };

    const current = remoteCommands(run);
    const byName = new Map(current.map((r) => [r.name, r]));
    const waitsFor = commandDependencies(run);
    const steps = new Map<string, Promise<boolean>>();
    const step = (r: RegisteredResource): Promise<boolean> => {
        let p = steps.get(r.name);
        if (!p) {
            p = (async () => {
                const deps = await Promise.all((waitsFor.get(r.name) ?? []).map((d) => step(byName.get(d)!)));
                if (!deps.every(Boolean)) return false;
                const old = previous[r.name];
                if (old && same(old, r.inputs)) return true;
                if (!old) {
                    if (!(await exec(r.name, "create", r.inputs, r.inputs.create))) return false;
                } else if (!same(old.triggers, r.inputs.triggers)) {
                    if (!(await exec(r.name, "delete", old, old.delete))) return false;
                    delete state[r.name];
                    if (!(await exec(r.name, "create", r.inputs, r.inputs.create))) return false;
                } else if (!(await exec(r.name, "update", r.inputs, r.inputs.update ?? r.inputs.create))) {
                    return false;
                }
                state[r.name] = r.inputs;
                return true;
            })();
            steps.set(r.name, p);
        }
        return p;
    };
    await Promise.all(current.map(step));
    if (failed) return { state, executed, failed };

    const names = new Set(current.map((r) => r.name));
    for (const name of Object.keys(previous).reverse()) {
        if (names.has(name)) continue;
        if (!(await exec(name, "delete", previous[name], previous[name].delete))) return { state, executed, failed };
        delete state[name];
    }
    return { state, executed };
}
