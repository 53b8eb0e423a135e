/**
 * `npm run bench` (as root): measures mailhost's deploy and the server it leaves
 * behind on disposable Debian 12 test hosts (test/testhost, ids 21..26), prints a
 * table and writes bench/results.json. See bench/README.md for what each figure means.
 *
 * Traffic goes only to the test hosts (10.210.N.0/24, clients bound to the test
 * machine's address on that link) and, for the throughput section, stays inside the
 * host (smtp-source -> 127.0.0.1). Every host booted here is torn down in `finally`,
 * and by testhost.ts's exit/signal handlers if this process dies; a watchdog ends the
 * whole run after WATCHDOG_MINUTES.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../test/harness/program";
import { ensureTestImage } from "../test/e2e/lib";
import { scriptDir, TestHost } from "../test/testhost/testhost";
import { addUsers, benchReapply, firstApplyRun, FirstApplyResult, FIRST_APPLY_RUNS, FirstApplyRun, floorRun, FloorRun, ReapplyCase, ReapplyResult, summarizeFirstApply } from "./deploy";
import { benchEvaluation, EvalResult } from "./evaluation";
import { benchImap, ImapResult } from "./imap";
import { BENCH_USERS, benchThroughput, ThroughputResult, VARIANTS } from "./throughput";
import { log, now, round } from "./util";

const WATCHDOG_MINUTES = 30;
/** Host ids of this bench (other engineers use 11..14). */
const APPLY_IDS = [21, 22, 23];
const FLOOR_IDS = [24, 25, 26];
const RESULTS = path.join(REPO_ROOT, "bench", "results.json");

interface Machine {
    cpuModel: string;
    nproc: number;
    memoryGiB: number;
    kernel: string;
    node: string;
    loadAverageAtStart: number[];
    /** Test hosts of other ids running when the bench started (they share the 2 cores). */
    otherTestHostsAtStart: string[];
    otherTestHostsAtEnd?: string[];
}

interface Results {
    startedAt: string;
    totalSeconds?: number;
    machine: Machine;
    evaluation?: EvalResult;
    firstApply?: FirstApplyResult;
    reapply?: ReapplyResult & { addUsers?: ReapplyCase };
    throughput?: ThroughputResult;
    imap?: ImapResult;
    error?: string;
    table?: string;
}

function otherTestHosts(): string[] {
    const run = process.env.MAILHOST_TESTHOST_RUN ?? "/run/mailhost-testhost";
    const mine = new Set([...APPLY_IDS, ...FLOOR_IDS].map(String));
    try {
        return fs.readdirSync(run).filter((d) => /^\d+$/.test(d) && !mine.has(d));
    } catch {
        return [];
    }
}

function machine(): Machine {
    const cpu = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? os.cpus()[0]?.model ?? "?";
    const nproc = Number(spawnSync("nproc", { encoding: "utf8" }).stdout.trim()) || os.cpus().length;
    return {
        cpuModel: cpu.trim(),
        nproc,
        memoryGiB: round(os.totalmem() / 2 ** 30, 1),
        kernel: os.release(),
        node: process.version,
        loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
        otherTestHostsAtStart: otherTestHosts(),
    };
}

// ------------------------------------------------------------------ the table

type Row = [string, string, string?];

function section(title: string, rows: Row[]): string {
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    return [title, ...rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padStart(w1)}${c ? `  ${c}` : ""}`)].join("\n");
}

const s = (x: number, d = 1) => `${x.toFixed(d)} s`;
const goal = (ok: boolean, text: string) => `${ok ? "meets" : "MISSES"} goal ${text}`;

function table(r: Results): string {
    const m = r.machine;
    const out: string[] = [
        `mailhost bench, ${r.startedAt}: ${m.cpuModel}, nproc ${m.nproc}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}` +
            (m.otherTestHostsAtStart.length ? ` (other test hosts running at start: ${m.otherTestHostsAtStart.join(" ")})` : ""),
    ];
    if (r.firstApply) {
        const f = r.firstApply;
        const fm = f.median;
        out.push(
            section(`1. First apply vs its floor (median of ${f.runs} fresh hosts each, interleaved)`, [
                ["first apply: SSH reachable -> mail read over IMAP", s(fm.total), `runs ${f.applies.map((a) => a.total.toFixed(1)).join(" / ")}`],
                [`floor: apt-get install of the ${f.packages.length} packages`, s(fm.floor), `runs ${f.floors.map((x) => x.seconds.toFixed(1)).join(" / ")}`],
                ["ratio first apply / floor", `${fm.ratio.toFixed(2)}x`, goal(fm.ratio <= 1.2, "<= 1.2")],
                ["remote commands / SSH sessions of the apply", `${fm.remoteCommands} / ${fm.sshSessions}`],
                ["  of which: the program's package step", s(fm.packagesStep), `${fm.packagesStepRatio.toFixed(2)}x the floor`],
                ["  program under mocks + replay overhead", s(fm.program)],
                ["  SMTP (swaks) / IMAP until read", `${s(fm.smtp, 2)} / ${s(fm.imap, 2)}`],
                ...f.steps.slice(0, 5).map((st, i): Row => [`  slowest step #${i + 1}: ${st.step}`, s(st.seconds, 2)]),
            ]),
        );
    }
    if (r.reapply) {
        const rows: Row[] = r.reapply.cases.map((c) => [
            c.what,
            `${c.medianCommands} cmd, ${s(c.medianSeconds, 2)}`,
            c.goalCommands !== undefined ? goal(c.medianCommands === c.goalCommands, `${c.goalCommands} command${c.goalCommands === 1 ? "" : "s"}`) + `; ran: ${[...new Set(c.runs.flatMap((x) => x.commands))].join(", ") || "nothing"}` : undefined,
        ]);
        if (r.reapply.addUsers) rows.push([r.reapply.addUsers.what, `${r.reapply.addUsers.medianCommands} cmd, ${s(r.reapply.addUsers.medianSeconds, 2)}`]);
        out.push(section(`2. Re-apply on the deployed host (median of ${r.reapply.runs}; wall time includes evaluating the program)`, rows));
    }
    if (r.evaluation) {
        const e = r.evaluation;
        const big = e.cases[e.cases.length - 1];
        out.push(
            section(`3. Program evaluation under mocks (child process per run, median of ${e.runs})`, [
                ["node -e 0 (process start)", s(e.nodeStart.median, 2)],
                ['node -e \'require("@pulumi/pulumi")\'', s(e.pulumiRequire.median, 2)],
                ...e.cases.map((c): Row => [
                    `${c.stack === "dev" ? "dev stack (Pulumi.dev.yaml + test secrets)" : `${c.users} users, ${c.aliases} aliases`}`,
                    s(c.median, 2),
                    `${c.resources} resources, ${c.remoteCommands} remote commands; beyond the pulumi baseline ${s(c.median - e.pulumiRequire.median, 2)}`,
                ]),
                [`goal for ${big.users} users`, s(big.median, 2), goal(big.median < 3, "< 3 s")],
                ["growth with the user count", `${e.growth.perUserMs.toFixed(1)} ms/user`, `intercept ${s(e.growth.interceptSeconds, 2)}; exponent of the program's share ${e.growth.exponent} (1 = linear)`],
            ]),
        );
    }
    if (r.throughput) {
        const t = r.throughput;
        const rows: Row[] = VARIANTS.map((v) => [v.label, `${t.median[v.id].deliveredPerSecond.toFixed(1)} msg/s`, v.id === "smtp-sink" ? "accepted (discarded)" : `delivered; accepted ${t.median[v.id].acceptedPerSecond.toFixed(1)} msg/s`]);
        rows.push(["ratio deployed / chapter's mbox", `${t.ratioVsChapter.toFixed(2)}x`]);
        rows.push(["ratio deployed / smtp-sink ceiling", `${t.ratioVsSink.toFixed(3)}x`]);
        out.push(section(`4. Delivery throughput: smtp-source on the host -> 127.0.0.1:25, N=${t.messages} messages (${t.messageBytes} B in the Maildir), C=${t.sessions} sessions, ${t.users} users (median of ${t.rounds} rounds)`, rows));
    }
    if (r.imap) {
        const i = r.imap;
        out.push(
            section(`5. IMAP over TLS (993, pinned certificate), imapflow, ${i.clients} concurrent clients, mailbox of ${i.mailboxMessages} messages (median of ${i.rounds} rounds)`, [
                ["logins/s (TLS connect + AUTH + SELECT + LOGOUT)", `${i.median.loginsPerSecond.toFixed(1)} /s`, `${i.perRound[0].logins} per round`],
                ["message fetches/s (UID FETCH BODY[], one message each)", `${i.median.fetchesPerSecond.toFixed(1)} /s`, `${i.perRound[0].fetches} per round`],
            ]),
        );
    }
    if (r.error) out.push(`ERROR: ${r.error}`);
    if (r.totalSeconds !== undefined) out.push(`total bench time: ${s(r.totalSeconds)} (${(r.totalSeconds / 60).toFixed(1)} min)`);
    return out.join("\n\n");
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
    if (process.getuid?.() !== 0) {
        process.stderr.write("bench: must run as root (the test hosts are systemd-nspawn containers)\n");
        return 1;
    }
    const t0 = now();
    const results: Results = { startedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"), machine: machine() };
    const watchdog = setTimeout(() => {
        process.stderr.write(`bench: watchdog: still running after ${WATCHDOG_MINUTES} min, stopping (hosts are torn down on exit)\n`);
        process.exit(3);
    }, WATCHDOG_MINUTES * 60_000);
    watchdog.unref();

    let hostA: TestHost | undefined;
    try {
        const deps = spawnSync("bash", [path.join(scriptDir(), "testhost.sh"), "deps"], { stdio: ["ignore", "inherit", "inherit"], timeout: 600_000 });
        if (deps.status !== 0) throw new Error("testhost.sh deps failed");
        log("image (cached after the first build)");
        await ensureTestImage();

        log("3. program evaluation");
        results.evaluation = await benchEvaluation();

        log("1. first apply vs floor");
        const applies: FirstApplyRun[] = [];
        const floors: FloorRun[] = [];
        let kept: Awaited<ReturnType<typeof firstApplyRun>> | undefined;
        for (let i = 0; i < FIRST_APPLY_RUNS; i++) {
            // Alternate which of the two goes first, so drift favours neither.
            const doApply = async () => {
                const r = await firstApplyRun(APPLY_IDS[i], i === 0);
                applies.push(r.run);
                if (r.host) {
                    kept = r;
                    hostA = r.host;
                }
            };
            const doFloor = async () => {
                const f = await floorRun(FLOOR_IDS[i]);
                floors.push(f);
                log(`floor on host ${f.hostId}: ${f.seconds.toFixed(1)} s`);
            };
            if (i % 2 === 0) {
                await doFloor();
                await doApply();
            } else {
                await doApply();
                await doFloor();
            }
        }
        results.firstApply = summarizeFirstApply(applies, floors);
        if (!kept?.host || !kept.stack || !kept.config) throw new Error("no deployed host kept");
        const host = kept.host;

        log(`2. re-apply on host ${host.id}`);
        const re = await benchReapply(host, kept.stack, kept.config);
        const added = await addUsers(kept.stack, re.config, BENCH_USERS);
        results.reapply = { ...re.result, addUsers: added.case };

        log(`4. throughput on host ${host.id}`);
        results.throughput = await benchThroughput(host);

        log(`5. IMAP on host ${host.id}`);
        results.imap = await benchImap(host);
    } catch (e) {
        results.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        log(`failed: ${results.error}`);
    } finally {
        await hostA?.down().catch((e) => log(`teardown of host ${hostA?.id} failed: ${e}`));
    }
    results.totalSeconds = round(now() - t0, 1);
    results.machine.otherTestHostsAtEnd = otherTestHosts();
    results.table = table(results);
    fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
    process.stdout.write(`\n${results.table}\n\nwritten: ${path.relative(process.cwd(), RESULTS)}\n`);
    return results.error ? 1 : 0;
}

main().then(
    (code) => process.exit(code),
    (e) => {
        process.stderr.write(`bench: ${e instanceof Error ? e.stack : e}\n`);
        process.exit(1);
    },
);
