/**
 * Whole-program runs: the harness child (test/harness) under Pulumi's mocks, wrapped
 * by graphChild to also record parents, dependencies, resource options and invokes.
 */
import { execFile } from "child_process";
import * as path from "path";
import type { ProgramRequest, ProgramRun, RegisteredResource } from "../harness/program";
import { remoteCommands } from "../harness/program";
import type { Graph, GraphNode } from "./graphChild";
import { configValues, SECRET_KEYS, StackConfig } from "./fixtures";

export interface GraphRun extends ProgramRun {
    graph: Graph;
}

/** Runs the program once; `secretKeys` defaults to the tests' secret keys present in `cfg`. */
export function runWithGraph(cfg: StackConfig, secretKeys?: string[], stack = "dev"): Promise<GraphRun> {
    const req: ProgramRequest = {
        config: configValues(cfg),
        secretKeys: secretKeys ?? SECRET_KEYS.filter((k) => k in cfg),
        stack,
    };
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            [path.join(__dirname, "graphChild.js")],
            { env: { ...process.env, MAILHOST_PROGRAM_REQUEST: JSON.stringify(req) }, maxBuffer: 256 * 1024 * 1024 },
            (err, stdout, stderr) => {
                const [runLine, graphLine] = stdout.split("\n");
                try {
                    resolve({ ...(JSON.parse(runLine) as ProgramRun), graph: JSON.parse(graphLine) as Graph });
                } catch {
                    reject(new Error(`program run failed: ${err?.message ?? ""}\n${stderr}\n${stdout.slice(0, 2000)}`));
                }
            },
        );
    });
}

/** The remote commands of a run, in registration order. */
export function commands(run: ProgramRun): RegisteredResource[] {
    return remoteCommands(run);
}

/** The one resource of that name (fails the test when absent). */
export function resource(run: ProgramRun, name: string): RegisteredResource {
    const found = run.resources.filter((r) => r.name === name);
    if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}: ${run.resources.map((r) => r.name).join(", ")}`);
    return found[0];
}

/** The script a remote command sends on stdin. */
export function stdinOf(run: ProgramRun, name: string): string {
    const stdin = resource(run, name).inputs.stdin;
    if (typeof stdin !== "string") throw new Error(`${name} has no stdin`);
    return stdin;
}

/** The graph node of a resource. */
export function node(run: GraphRun, name: string): GraphNode {
    const found = run.graph.nodes.filter((n) => n.name === name);
    if (found.length !== 1) throw new Error(`expected one graph node named ${name}, found ${found.length}`);
    return found[0];
}

/** The name of the resource a URN designates. */
export function urnName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** The type of the resource a URN designates (without its parents' types). */
export function urnType(urn: string): string {
    const qualified = urn.split("::")[2];
    return qualified.slice(qualified.lastIndexOf("$") + 1);
}

/** Names of every resource `name` depends on, directly or through other resources. */
export function transitiveDependencies(run: GraphRun, name: string): Set<string> {
    const byName = new Map(run.graph.nodes.map((n) => [n.name, n]));
    const seen = new Set<string>();
    const walk = (n: string) => {
        for (const dep of byName.get(n)?.dependencies ?? []) {
            const d = urnName(dep);
            if (!seen.has(d)) {
                seen.add(d);
                walk(d);
            }
        }
    };
    walk(name);
    return seen;
}

/** Resources of two runs compared by type and name: what was added, removed, changed. */
export function diffRuns(a: ProgramRun, b: ProgramRun): { added: string[]; removed: string[]; changed: string[] } {
    const key = (r: RegisteredResource) => `${r.type}::${r.name}`;
    const index = (run: ProgramRun) => new Map(run.resources.map((r) => [key(r), JSON.stringify({ inputs: r.inputs, secretInputs: r.secretInputs })]));
    const ia = index(a);
    const ib = index(b);
    return {
        added: [...ib.keys()].filter((k) => !ia.has(k)).map((k) => k.split("::")[1]).sort(),
        removed: [...ia.keys()].filter((k) => !ib.has(k)).map((k) => k.split("::")[1]).sort(),
        changed: [...ia.keys()].filter((k) => ib.has(k) && ia.get(k) !== ib.get(k)).map((k) => k.split("::")[1]).sort(),
    };
}

/** The body of the here-document fed to `command` in a script (with its final newline). */
export function heredocBody(script: string, command: string): string {
    const start = `${command} <<'MAILHOST_EOF'\n`;
    const at = script.indexOf(start);
    if (at < 0) throw new Error(`no here-document for ${command}`);
    const from = at + start.length;
    const end = script.indexOf("\nMAILHOST_EOF", from - 1);
    return script.slice(from, end + 1);
}
