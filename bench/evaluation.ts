/**
 * Section 3: evaluating the whole program under Pulumi's mocks (test/harness: a child
 * process per run, so process start and module loading are included), for the dev
 * stack and for stacks with many users, next to the bare cost of starting Node and
 * loading @pulumi/pulumi.
 */
import { REPO_ROOT, runProgram } from "../test/harness/program";
import { chapterConfig as devStackConfig } from "../test/unit/fixtures";
import { log, median, now, QUICK, round, runLocal } from "./util";

export const EVAL_RUNS = QUICK ? 1 : 5;
export const USER_COUNTS = [100, 250, 500];
export const ALIAS_COUNT = 500;

export interface EvalCase {
    stack: string;
    users: number;
    aliases: number;
    resources: number;
    remoteCommands: number;
    runs: number[];
    median: number;
}

export interface EvalResult {
    runs: number;
    /** `node -e 0`: starting Node alone. */
    nodeStart: { runs: number[]; median: number };
    /** `node -e 'require("@pulumi/pulumi")'`. */
    pulumiRequire: { runs: number[]; median: number };
    cases: EvalCase[];
    /** Least-squares line through the many-user cases: seconds = intercept + perUser * users. */
    growth: { perUserMs: number; interceptSeconds: number; exponent: number };
}

/** The dev stack (Pulumi.dev.yaml plus the unit tests' secrets) with `users` users and `aliases` aliases. */
export function manyUsersConfig(users: number, aliases: number): Record<string, unknown> {
    const base = devStackConfig();
    const list = Array.from({ length: users }, (_, i) => ({ name: `u${String(i).padStart(4, "0")}`, password: `bench-password-${i}` }));
    const map: Record<string, string> = {};
    for (let i = 0; i < aliases; i++) map[`a${String(i).padStart(4, "0")}`] = list[i % users].name;
    return { ...base, users: list, aliases: map };
}

async function timeNode(code: string): Promise<number> {
    const t = now();
    const r = await runLocal(process.execPath, ["-e", code], { cwd: REPO_ROOT });
    if (r.code !== 0) throw new Error(`node -e ${code} failed: ${r.stderr}`);
    return now() - t;
}

async function timeProgram(stack: string, config: Record<string, unknown>): Promise<{ seconds: number; resources: number; remoteCommands: number }> {
    const t = now();
    const run = await runProgram(config, ["users", "sshPrivateKey"], stack);
    const seconds = now() - t;
    if (run.error) throw new Error(`program failed for ${stack}: ${run.error}`);
    return {
        seconds,
        resources: run.resources.length,
        remoteCommands: run.resources.filter((r) => r.type === "command:remote:Command").length,
    };
}

export async function benchEvaluation(): Promise<EvalResult> {
    const nodeStart: number[] = [];
    const pulumiRequire: number[] = [];
    const configs: [string, Record<string, unknown>, number, number][] = [
        ["dev", devStackConfig(), (devStackConfig().users as unknown[]).length, Object.keys(devStackConfig().aliases as object).length],
        ...USER_COUNTS.map((n) => [`${n} users`, manyUsersConfig(n, ALIAS_COUNT), n, ALIAS_COUNT] as [string, Record<string, unknown>, number, number]),
    ];
    const cases: EvalCase[] = configs.map(([stack, , users, aliases]) => ({ stack, users, aliases, resources: 0, remoteCommands: 0, runs: [], median: 0 }));
    // Interleaved: run i of every case before run i+1 of any, so drift in the machine's
    // load (other engineers' test hosts) spreads over all cases alike.
    for (let i = 0; i < EVAL_RUNS; i++) {
        nodeStart.push(await timeNode("0"));
        pulumiRequire.push(await timeNode('require("@pulumi/pulumi")'));
        for (let c = 0; c < configs.length; c++) {
            const r = await timeProgram(configs[c][0] === "dev" ? "dev" : "bench", configs[c][1]);
            cases[c].runs.push(round(r.seconds));
            cases[c].resources = r.resources;
            cases[c].remoteCommands = r.remoteCommands;
        }
        log(`evaluation run ${i + 1}/${EVAL_RUNS}: ${cases.map((c) => `${c.stack} ${c.runs[i].toFixed(2)}s`).join(", ")}`);
    }
    for (const c of cases) c.median = round(median(c.runs));
    const many = cases.filter((c) => c.stack !== "dev");
    const xs = many.map((c) => c.users);
    const ys = many.map((c) => c.median);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    // Exponent k of (t - t_pulumi) ~ users^k between the smallest and largest case:
    // 1 is linear growth of the program's own share.
    const base = median(pulumiRequire);
    const first = many[0];
    const last = many[many.length - 1];
    const exponent = Math.log((last.median - base) / (first.median - base)) / Math.log(last.users / first.users);
    return {
        runs: EVAL_RUNS,
        nodeStart: { runs: nodeStart.map((x) => round(x)), median: round(median(nodeStart)) },
        pulumiRequire: { runs: pulumiRequire.map((x) => round(x)), median: round(base) },
        cases,
        growth: { perUserMs: round(slope * 1000, 2), interceptSeconds: round(my - slope * mx), exponent: round(exponent, 2) },
    };
}
