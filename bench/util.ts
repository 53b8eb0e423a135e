/** Small helpers shared by the bench sections: clocks, medians, remote scripts, logging. */
import { spawn } from "child_process";
import type { TestHost } from "../test/testhost/testhost";

/** Monotonic seconds. */
export function now(): number {
    return Number(process.hrtime.bigint()) / 1e9;
}

export function median(xs: number[]): number {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `n` rounded to `digits` decimals (for the JSON: no float noise). */
export function round(n: number, digits = 3): number {
    const f = 10 ** digits;
    return Math.round(n * f) / f;
}

export function log(msg: string): void {
    const t = new Date().toISOString().slice(11, 19);
    process.stderr.write(`bench ${t} ${msg}\n`);
}

/** Runs `script` with bash on the host (sent on stdin); throws with its output unless it exits 0. */
export async function remote(host: TestHost, script: string, timeoutMs = 300_000): Promise<string> {
    const r = await host.exec("bash -s", script, { timeoutMs });
    if (r.code !== 0) throw new Error(`host ${host.id}: script failed (exit ${r.code}):\n${script.slice(0, 400)}\n--- stderr:\n${r.stderr}\n--- stdout:\n${r.stdout}`);
    return r.stdout;
}

/** SSH logins the host's sshd has accepted so far (this call's own login included). */
export async function sshLogins(host: TestHost): Promise<number> {
    const out = await remote(host, "journalctl -u ssh.service -o cat --no-pager | grep -c '^Accepted publickey' || true");
    return Number(out.trim());
}

/** Runs a local program; resolves with its exit code and output (never rejects on exit code). */
export function runLocal(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? 128, stdout, stderr });
        });
    });
}

export function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

/**
 * MAILHOST_BENCH_QUICK=1: one run of everything and small counts, to check the bench
 * itself (its figures are not comparable with a full run's).
 */
export const QUICK = process.env.MAILHOST_BENCH_QUICK === "1";
