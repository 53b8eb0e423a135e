/**
 * Shared pieces of the end-to-end tests: the stack config for a test host, deploying
 * it (mock run + replay over SSH), and the real clients that check the result.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ProgramRun, REPO_ROOT } from "../harness/program";
import { runWithGraph } from "../unit/run";
import { allPackages, platformFor } from "../../components/platform";
import { ensureImage, TestHost } from "../testhost/testhost";
import { apply, ApplyResult, ReplayState } from "./replay";

export const DOMAIN = "linuxprobe.com";
export const HOSTNAME = "mail.linuxprobe.com";
export const CLIENTS_PY = path.join(REPO_ROOT, "test", "e2e", "clients.py");

/** What the test hosts' local apt repository holds: every package any stack may install (certbot too). */
export const IMAGE_PACKAGES = allPackages(platformFor("debian12"), { acme: true });

/** Builds (or finds cached) the one image every e2e test and the bench boot. */
export function ensureTestImage(): Promise<void> {
    return ensureImage(IMAGE_PACKAGES);
}

/** The chapter's config, pointed at `host` (Debian 12), trusting only the test machine's first address. */
export function chapterConfig(host: TestHost, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        domain: DOMAIN,
        hostname: HOSTNAME,
        target: "ssh",
        os: "debian12",
        ssh: { host: host.ip, port: host.sshPort, user: "root" },
        sshPrivateKey: fs.readFileSync(host.sshKeyPath, "utf8"),
        users: [{ name: "liuchuan", password: "linuxprobe-e2e" }],
        aliases: { dream: "root" },
        trustedNetworks: [`${host.clientIp}/32`],
        ...extra,
    };
}

/** A stack on a test host: each `up` runs the program and replays it on top of the last state. */
export class TestStack {
    state: ReplayState = {};
    /** The program run of the last `up` (its outputs: warnings, fingerprint, ...). */
    lastRun?: ProgramRun;
    constructor(public readonly host: TestHost) {}

    async up(config: Record<string, unknown>): Promise<ApplyResult> {
        const run = await runWithGraph(config, undefined, "e2e");
        this.lastRun = run;
        const result = await apply(run, this.state);
        this.state = result.state;
        return result;
    }
}

/** Throws with the failing command's output when an apply failed. */
export function assertApplied(r: ApplyResult): ApplyResult {
    if (r.failed) {
        throw new Error(`${r.failed.operation} of ${r.failed.resource} failed (exit ${r.failed.code}):\n${r.failed.stderr}\n${r.failed.stdout}`);
    }
    return r;
}

export interface Proc {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs a local program (a client on the test machine). */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<Proc> {
    return new Promise((resolve) => {
        const child = execFile(cmd, args, { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
            const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        });
        if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
}

/** swaks against the host's port 25 (or `port`); returns the SMTP conversation. */
export function swaks(host: TestHost, args: string[]): Promise<Proc> {
        // Bound to the test machine's address on the host's link: never routed elsewhere.
    const local = args.includes("--local-interface") ? [] : ["--local-interface", host.clientIp];
    return run("swaks", ["--server", host.ip, "--timeout", "20", "--hide-informational", ...local, ...args]);
}

/** dig at the host's BIND: the answer section, one record per line. */
export async function dig(host: TestHost, name: string, type: string): Promise<string[]> {
    const r = await run("dig", [`@${host.ip}`, "-b", host.clientIp, "+short", "+norecurse", "+time=3", "+tries=2", name, type]);
    return r.stdout.split("\n").filter((l) => l.trim() !== "");
}

export interface MailboxResult {
    ok: boolean;
    count?: number;
    subjects?: string[];
    error?: string;
    /** With `--fetch SUBJECT` (imap, imaps): that message as stored, base64. */
    raw?: string | null;
}

/** Reads a mailbox with Python's imaplib/poplib (mode imap, imaps, pop3, pop3s). */
export async function mailbox(host: TestHost, mode: string, user: string, password: string, extra: string[] = []): Promise<MailboxResult> {
    const cafile = await hostCertificate(host);
    const r = await run("python3", [CLIENTS_PY, mode, host.ip, "--source", host.clientIp, "--user", user, "--cafile", cafile, ...extra], { env: { MH_PASS: password } });
    try {
        return JSON.parse(r.stdout) as MailboxResult;
    } catch {
        return { ok: false, error: `clients.py: ${r.stderr}` };
    }
}

/** Sends a message with authenticated submission (587 STARTTLS or 465 TLS) with Python's smtplib, from `source` (default: the client address). */
export async function submit(
    host: TestHost,
    mode: "submission" | "smtps",
    user: string,
    password: string,
    from: string,
    to: string,
    subject: string,
    source = host.clientIp,
): Promise<MailboxResult & { refused?: string[] }> {
    const cafile = await hostCertificate(host);
    const r = await run("python3", [CLIENTS_PY, mode, host.ip, "--source", source, "--user", user, "--cafile", cafile, "--sender", from, "--to", to, "--subject", subject], { env: { MH_PASS: password } });
    try {
        return JSON.parse(r.stdout);
    } catch {
        return { ok: false, error: `clients.py: ${r.stderr}` };
    }
}

export interface ProbeResult {
    ok: boolean;
    error?: string;
    port: number;
    /** Capabilities (EHLO keywords, IMAP CAPABILITY, POP3 CAPA) before STARTTLS. */
    before?: string[];
    /** Whether STARTTLS (STLS) was offered. */
    offered?: boolean;
    /** Capabilities once TLS is up. */
    after?: string[];
    /** The TLS session: protocol version, cipher, the server certificate (DER, base64). */
    tls?: { version: string; cipher: string; der: string };
}

/**
 * Probes a port of the host without logging in (clients.py probe): capabilities before
 * and after STARTTLS (or implicit TLS), and the TLS session. `tlsVersion` makes the
 * client offer only that version, at OpenSSL security level 0.
 */
export async function probe(
    host: TestHost,
    port: number,
    proto: "smtp" | "imap" | "pop3",
    opts: { implicit?: boolean; noTls?: boolean; tlsVersion?: "1.0" | "1.1" | "1.2" | "1.3"; source?: string; timeoutSeconds?: number } = {},
): Promise<ProbeResult> {
    const cafile = await hostCertificate(host);
    const args = [CLIENTS_PY, "probe", host.ip, "--source", opts.source ?? host.clientIp, "--user", "-", "--cafile", cafile, "--port", String(port), "--proto", proto];
    if (opts.implicit) args.push("--implicit");
    if (opts.noTls) args.push("--no-tls");
    if (opts.tlsVersion) args.push("--tls-version", opts.tlsVersion);
    if (opts.timeoutSeconds) args.push("--timeout", String(opts.timeoutSeconds));
    const r = await run("python3", args);
    try {
        return JSON.parse(r.stdout) as ProbeResult;
    } catch {
        return { ok: false, port, error: `clients.py: ${r.stderr}` };
    }
}

export interface EnvelopeResult {
    ok: boolean;
    error?: string;
    /** Each command sent and the server's reply, up to the first refusal. */
    steps: { step: string; code: number; reply: string }[];
    /** The first step answered with 4xx/5xx. */
    refused?: { step: string; code: number; reply: string };
}

/**
 * An SMTP envelope on `port` (clients.py envelope): STARTTLS unless `implicit` or
 * `noTls`, AUTH when `user` is given, then MAIL FROM and RCPT TO; no DATA.
 */
export async function envelope(
    host: TestHost,
    port: number,
    from: string,
    to: string,
    opts: { implicit?: boolean; noTls?: boolean; user?: string; password?: string; source?: string } = {},
): Promise<EnvelopeResult> {
    const cafile = await hostCertificate(host);
    const args = [CLIENTS_PY, "envelope", host.ip, "--source", opts.source ?? host.clientIp, "--user", opts.user ?? "-", "--cafile", cafile, "--port", String(port), "--sender", from, "--to", to];
    if (opts.implicit) args.push("--implicit");
    if (opts.noTls) args.push("--no-tls");
    const r = await run("python3", args, { env: { MH_PASS: opts.password ?? "" } });
    try {
        return JSON.parse(r.stdout) as EnvelopeResult;
    } catch {
        return { ok: false, steps: [], error: `clients.py: ${r.stderr}` };
    }
}

/** Whether a TCP connection to the host's `port` from `source` (default: the client address) opens. */
export async function canConnect(host: TestHost, port: number, source = host.clientIp): Promise<boolean> {
    const r = await run("python3", ["-c", "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3, (sys.argv[3], 0)).close()", host.ip, String(port), source], { timeoutMs: 10_000 });
    return r.code === 0;
}

const certCache = new Map<string, string>();
const trustedCas = new Map<number, string>();

/** From now on verify `host`'s TLS against this CA (PEM; ACME: the CA's root) instead of its own certificate. */
export function trustCa(host: TestHost, pem: string): void {
    const file = path.join("/tmp", `mailhost-e2e-ca-${host.id}.pem`);
    fs.writeFileSync(file, pem);
    trustedCas.set(host.id, file);
}

/** What to verify the host's TLS against: the CA given to `trustCa`, or the host's (self-signed) certificate, fetched over SSH. */
export async function hostCertificate(host: TestHost): Promise<string> {
    const ca = trustedCas.get(host.id);
    if (ca) return ca;
    const r = await host.exec("cat /etc/ssl/certs/mailhost.pem");
    const file = path.join("/tmp", `mailhost-e2e-cert-${host.id}.pem`);
    if (certCache.get(file) !== r.stdout) {
        fs.writeFileSync(file, r.stdout);
        certCache.set(file, r.stdout);
    }
    return file;
}

/** Waits until `check` returns true (mail delivery is asynchronous), up to `seconds`. */
export async function eventually(check: () => Promise<boolean>, seconds = 20): Promise<boolean> {
    const until = Date.now() + seconds * 1000;
    for (;;) {
        if (await check()) return true;
        if (Date.now() > until) return false;
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** Waits for Postfix's queue on the host to be empty. */
export async function queueEmpty(host: TestHost): Promise<boolean> {
    return eventually(async () => (await host.exec("postqueue -j | wc -l")).stdout.trim() === "0");
}

/** Timing of phases, printed at the end of a test file for the closing note. */
export const timings: [string, number][] = [];
export async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
    const t = Date.now();
    try {
        return await f();
    } finally {
        timings.push([what, (Date.now() - t) / 1000]);
    }
}
export function printTimings(file: string): void {
    const lines = timings.map(([w, s]) => `  ${s.toFixed(1).padStart(7)} s  ${w}`);
    process.stdout.write(`\n# timings (${file})\n${lines.join("\n")}\n`);
}
