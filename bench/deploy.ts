/**
 * Sections 1 and 2: the first apply on a fresh host (from "reachable over SSH" to "a
 * mail sent over SMTP is read over IMAP") next to its floor (installing the same
 * packages on an identical fresh host), and re-applies.
 */
import { allPackages, platformFor } from "../components/platform";
import { ApplyResult, ExecutedCommand } from "../test/e2e/replay";
import { assertApplied, chapterConfig, DOMAIN, swaks, TestStack } from "../test/e2e/lib";
import { bootHost, TestHost } from "../test/testhost/testhost";
import { imapLogin, pemFingerprint, waitAndRead } from "./imapcheck";
import { log, median, now, QUICK, remote, round, sshLogins } from "./util";

export const FIRST_APPLY_RUNS = QUICK ? 1 : 3;
export const REAPPLY_RUNS = QUICK ? 1 : 3;
/** The chapter's user and the password chapterConfig gives it. */
export const USER = "liuchuan";
export const PASSWORD = "linuxprobe-e2e";

export interface StepTime {
    step: string;
    seconds: number;
}

export interface FirstApplyRun {
    hostId: number;
    /** Host reachable over SSH -> mail read over IMAP. */
    total: number;
    /** Program under mocks + replay of every remote command (TestStack.up). */
    apply: number;
    /** TestStack.up minus the remote commands: evaluating the program (child process) and the replay's bookkeeping. */
    program: number;
    remoteCommands: number;
    /** SSH logins the host's sshd accepted during the apply. */
    sshSessions: number;
    steps: StepTime[];
    /** swaks to port 25. */
    smtp: number;
    /** IMAP login until the message is read. */
    imap: number;
}

export interface FloorRun {
    hostId: number;
    /** apt-get install of every package, over one SSH session. */
    seconds: number;
    packages: number;
}

export interface FirstApplyResult {
    runs: number;
    packages: string[];
    applies: FirstApplyRun[];
    floors: FloorRun[];
    median: {
        total: number;
        floor: number;
        ratio: number;
        apply: number;
        remoteCommands: number;
        sshSessions: number;
        smtp: number;
        imap: number;
        program: number;
        /** The program's own package step vs the floor. */
        packagesStep: number;
        packagesStepRatio: number;
    };
    /** Median seconds of each step over the runs, slowest first. */
    steps: StepTime[];
}

export interface ReapplyCase {
    what: string;
    runs: { seconds: number; commands: string[] }[];
    medianSeconds: number;
    medianCommands: number;
    goalCommands?: number;
}

export interface ReapplyResult {
    runs: number;
    cases: ReapplyCase[];
}

export const PACKAGES = allPackages(platformFor("debian12"));

/** The installed-package count of the list (dpkg's view). */
async function installedCount(host: TestHost): Promise<number> {
    const out = await remote(host, `dpkg-query -W -f='\${db:Status-Status}\\n' ${PACKAGES.join(" ")} 2>/dev/null | grep -cx installed || true`);
    return Number(out.trim());
}

/** The floor: the same packages installed by apt-get alone on a fresh host. */
export async function floorRun(id: number): Promise<FloorRun> {
    const host = await bootHost(id, { replace: true });
    try {
        const bare = await remote(host, "dpkg -l postfix dovecot-core bind9 firewalld 2>/dev/null | grep -c '^ii' || true");
        if (bare.trim() !== "0") throw new Error(`floor host ${id} is not bare: ${bare}`);
        const t0 = now();
        await remote(host, `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES.join(" ")} >/dev/null`, 600_000);
        const seconds = now() - t0;
        const packages = await installedCount(host);
        if (packages !== PACKAGES.length) throw new Error(`floor host ${id}: ${packages}/${PACKAGES.length} packages installed`);
        return { hostId: id, seconds: round(seconds), packages };
    } finally {
        await host.down();
    }
}

/**
 * One first apply on a fresh host. With `keep`, the host and its stack are handed back
 * (for the re-apply, throughput and IMAP sections) instead of torn down; the caller
 * must then tear it down.
 */
export async function firstApplyRun(id: number, keep: boolean): Promise<{ run: FirstApplyRun; host?: TestHost; stack?: TestStack; config?: Record<string, unknown> }> {
    const host = await bootHost(id, { replace: true });
    let handedOver = false;
    try {
        const bare = await remote(host, "dpkg -l postfix dovecot-core bind9 firewalld 2>/dev/null | grep -c '^ii' || true");
        if (bare.trim() !== "0") throw new Error(`host ${id} is not bare: ${bare}`);
        const stack = new TestStack(host);
        const config = chapterConfig(host);
        const subject = `bench-first-apply-${id}-${Date.now()}`;
        const loginsBefore = await sshLogins(host);

        // -------- timed: host reachable -> mail read over IMAP
        const t0 = now();
        const applied: ApplyResult = assertApplied(await stack.up(config));
        const t1 = now();
        const s = await swaks(host, ["--to", `${USER}@${DOMAIN}`, "--from", `client@${DOMAIN}`, "--header", `Subject: ${subject}`, "--helo", "client.linuxprobe.com"]);
        if (s.code !== 0) throw new Error(`swaks failed on host ${id}: ${s.stdout}${s.stderr}`);
        const t2 = now();
        const read = await waitAndRead(host, USER, PASSWORD, subject, {});
        const t3 = now();
        // -------- end of the timed part

        const loginsAfter = await sshLogins(host);
        const pem = await remote(host, "cat /etc/ssl/certs/mailhost.pem");
        if (read.fingerprint !== pemFingerprint(pem)) throw new Error(`host ${id}: IMAP presented a certificate other than /etc/ssl/certs/mailhost.pem`);
        const commandSeconds = busySeconds(applied.executed);
        const run: FirstApplyRun = {
            hostId: id,
            total: round(t3 - t0),
            apply: round(t1 - t0),
            program: round(t1 - t0 - commandSeconds),
            remoteCommands: applied.executed.length,
            sshSessions: loginsAfter - loginsBefore - 1, // the second count's own login
            steps: [
                { step: "program under mocks + replay overhead", seconds: round(t1 - t0 - commandSeconds) },
                ...applied.executed.map((c) => ({ step: `${c.operation} ${c.resource}`, seconds: round(c.seconds) })),
                { step: "SMTP: swaks to port 25", seconds: round(t2 - t1) },
                { step: "IMAP: login, wait for the message, read it", seconds: round(t3 - t2) },
            ],
            smtp: round(t2 - t1),
            imap: round(t3 - t2),
        };
        log(`first apply on host ${id}: ${run.total.toFixed(1)} s (apply ${run.apply.toFixed(1)} s, ${run.remoteCommands} commands, ${run.sshSessions} SSH sessions)`);
        if (keep) {
            handedOver = true;
            return { run, host, stack, config };
        }
        return { run };
    } finally {
        if (!handedOver) await host.down();
    }
}

/** Seconds during which at least one remote command ran (parallel commands overlap). */
export function busySeconds(executed: ExecutedCommand[]): number {
    const spans = executed.map((c) => [c.startedAt, c.endedAt]).sort((a, b) => a[0] - b[0]);
    let total = 0;
    let end = -Infinity;
    for (const [s, e] of spans) {
        if (e <= end) continue;
        total += e - Math.max(s, end);
        end = e;
    }
    return total / 1000;
}

export function summarizeFirstApply(applies: FirstApplyRun[], floors: FloorRun[]): FirstApplyResult {
    const m = (f: (r: FirstApplyRun) => number) => round(median(applies.map(f)));
    const floor = round(median(floors.map((f) => f.seconds)));
    const names = applies[0].steps.map((s) => s.step);
    const steps = names
        .map((step) => ({ step, seconds: round(median(applies.map((r) => r.steps.find((s) => s.step === step)?.seconds ?? NaN))) }))
        .sort((a, b) => b.seconds - a.seconds);
    const packagesStep = steps.find((s) => s.step === "create mailhost-host-packages")?.seconds ?? NaN;
    const total = m((r) => r.total);
    return {
        runs: applies.length,
        packages: PACKAGES,
        applies,
        floors,
        median: {
            total,
            floor,
            ratio: round(total / floor, 2),
            apply: m((r) => r.apply),
            remoteCommands: m((r) => r.remoteCommands),
            sshSessions: m((r) => r.sshSessions),
            smtp: m((r) => r.smtp),
            imap: m((r) => r.imap),
            program: m((r) => r.program),
            packagesStep,
            packagesStepRatio: round(packagesStep / floor, 2),
        },
        steps,
    };
}

/** One apply on top of the stack's state: wall time and the commands it ran. */
async function timedUp(stack: TestStack, config: Record<string, unknown>): Promise<{ seconds: number; commands: string[] }> {
    const t0 = now();
    const r = assertApplied(await stack.up(config));
    return { seconds: round(now() - t0), commands: r.executed.map((c) => `${c.operation} ${c.resource}`) };
}

function reapplyCase(what: string, runs: { seconds: number; commands: string[] }[], goalCommands?: number): ReapplyCase {
    return {
        what,
        runs,
        medianSeconds: round(median(runs.map((r) => r.seconds))),
        medianCommands: median(runs.map((r) => r.commands.length)),
        goalCommands,
    };
}

/**
 * Re-applies on the deployed host: the same config, then one user's password changed
 * (a new password each run). Returns the config now deployed.
 */
export async function benchReapply(host: TestHost, stack: TestStack, config: Record<string, unknown>): Promise<{ result: ReapplyResult; config: Record<string, unknown>; password: string }> {
    const same: { seconds: number; commands: string[] }[] = [];
    for (let i = 0; i < REAPPLY_RUNS; i++) same.push(await timedUp(stack, config));
    log(`re-apply, same config: ${same.map((r) => `${r.seconds}s/${r.commands.length} cmds`).join(", ")}`);
    const changed: { seconds: number; commands: string[] }[] = [];
    let current = config;
    let password = PASSWORD;
    for (let i = 0; i < REAPPLY_RUNS; i++) {
        password = `bench-changed-password-${i + 1}`;
        current = { ...current, users: [{ name: USER, password }] };
        changed.push(await timedUp(stack, current));
    }
    log(`re-apply, one password changed: ${changed.map((r) => `${r.seconds}s/${r.commands.join("+")}`).join(", ")}`);
    // The change took effect: the new password logs in.
    const client = await imapLogin(host, USER, password, {});
    await client.logout();
    return {
        result: {
            runs: REAPPLY_RUNS,
            cases: [reapplyCase("second apply, same config", same, 0), reapplyCase("apply after one user's password changed", changed, 1)],
        },
        config: current,
        password,
    };
}

/** An apply that adds users (for the throughput section); reported, no goal. */
export async function addUsers(stack: TestStack, config: Record<string, unknown>, users: { name: string; password: string }[]): Promise<{ config: Record<string, unknown>; case: ReapplyCase }> {
    const next = { ...config, users: [...(config.users as unknown[]), ...users] };
    const r = await timedUp(stack, next);
    log(`apply adding ${users.length} users: ${r.seconds} s, ${r.commands.length} commands`);
    return { config: next, case: reapplyCase(`apply adding ${users.length} users (for sections 4-5; 1 run)`, [r]) };
}
