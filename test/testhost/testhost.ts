// Typed Node wrapper around build-image.sh and testhost.sh (same folder): boots
// disposable Debian 12 test hosts (systemd-nspawn containers running real systemd)
// for mailhost's e2e tests. Imports only Node built-ins; needs root, like the scripts.
//
// Pattern for node:test — down() in an after() hook runs even when a test fails,
// and the exit/signal handlers below catch a crash of the whole process:
//
//   import { after, before, test } from "node:test";
//   import { bootHost, ensureImage, TestHost } from "../testhost/testhost";
//   let host: TestHost | undefined;
//   before(async () => { await ensureImage(); host = await bootHost(1); });
//   after(async () => { await host?.down(); });
//   test("postfix answers", async () => {
//     const r = await host!.exec("systemctl is-active postfix");
//     assert.equal(r.code, 0, r.stderr);
//   });
//
// Each host id (1..254) owns netns mh-tN, veths mh-hN/mh-cN, 10.210.N.0/24 and
// /run/mailhost-testhost/N: give every test file that runs in parallel its own id.

import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill ssh and reject after this many ms (default 600000). */
  timeoutMs?: number;
}

export interface TestHost {
  /** Host id N. */
  readonly id: number;
  /** The host's address, 10.210.N.2 (SSH on sshPort, root by key). */
  readonly ip: string;
  /** This machine's address on the host's link, 10.210.N.1 (the "trusted" client). */
  readonly clientIp: string;
  /** A second address of this machine on that link, 10.210.N.3 (bind to it for an "untrusted" client). */
  readonly untrustedIp: string;
  /** Private key that logs in as root on the host. */
  readonly sshKeyPath: string;
  readonly sshPort: number;
  /** Runs `cmd` (a shell command line) as root on the host over ssh. */
  exec(cmd: string, stdin?: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Full stop and start of the same host; its disk is kept. */
  reboot(): Promise<void>;
  /** Stops the host and removes everything it used. Safe to call twice. */
  down(): Promise<void>;
}

export interface BootOptions {
  /** Tear down a host with the same id left over by an earlier (crashed) run first. */
  replace?: boolean;
  /**
   * Run exec() over one shared SSH connection (ControlMaster): ~10 ms per call instead of
   * ~230 ms. Off by default because an established connection survives what a new one
   * would not (sshd stopped, port 22 closed by the firewall), which could hide a lockout.
   */
  sshMultiplex?: boolean;
}

/** What the image's local apt repository holds by default (build-image.sh DEFAULT_PKGS). */
export const DEFAULT_PACKAGES: readonly string[] = [
  "postfix", "dovecot-core", "dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd",
  "bind9", "bind9-utils", "bind9-dnsutils", "firewalld", "bsd-mailx",
  "opendkim", "opendkim-tools", "s-nail",
];

const SCRIPT_TIMEOUT_MS = 30 * 60 * 1000; // a cold image build takes ~30-120 s; be generous

/** Folder of testhost.sh: $MAILHOST_TESTHOST_DIR, this file's folder, or test/testhost above it. */
export function scriptDir(): string {
  const fromEnv = process.env.MAILHOST_TESTHOST_DIR;
  if (fromEnv) return fromEnv;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    for (const cand of [dir, path.join(dir, "test", "testhost")]) {
      if (fs.existsSync(path.join(cand, "testhost.sh")) && fs.existsSync(path.join(cand, "build-image.sh"))) {
        return cand;
      }
    }
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`testhost: cannot find test/testhost/testhost.sh above ${__dirname}; set MAILHOST_TESTHOST_DIR`);
}

let imageDir: string | undefined; // set by ensureImage, passed to testhost.sh up
const booted = new Set<number>();
let handlersInstalled = false;

function run(script: string, args: readonly string[], timeoutMs = SCRIPT_TIMEOUT_MS): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (imageDir && !env.MAILHOST_TESTHOST_IMAGE) env.MAILHOST_TESTHOST_IMAGE = imageDir;
    const child = spawn("bash", [path.join(scriptDir(), script), ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (process.env.MAILHOST_TESTHOST_VERBOSE) process.stderr.write(d);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? 128, stdout, stderr };
      if (code === 0) resolve(result);
      else
        reject(
          new Error(
            `testhost: ${script} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${stderr.trim()}`,
          ),
        );
    });
  });
}

function tearDownAllSync(): void {
  for (const id of [...booted]) {
    spawnSync("bash", [path.join(scriptDir(), "testhost.sh"), "down", String(id)], {
      stdio: ["ignore", "ignore", "inherit"],
      timeout: 60_000,
    });
    booted.delete(id);
  }
}

// Hosts this process booted must not outlive it: on normal exit, uncaught
// exception (both end in "exit") and on SIGINT/SIGTERM/SIGHUP.
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", tearDownAllSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      tearDownAllSync();
      process.kill(process.pid, sig); // re-raise: default action now that our listener is gone
    });
  }
}

/**
 * Builds the image (rootfs + local apt repo of `packages`) unless it is cached; a
 * cache hit takes well under a second. Hosts booted afterwards by this process use it.
 */
export async function ensureImage(packages?: readonly string[]): Promise<void> {
  const r = await run("build-image.sh", packages && packages.length > 0 ? [...packages] : []);
  imageDir = r.stdout.trim().split("\n").pop();
}

function parseEnv(text: string): (key: string) => string {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m && m[1] !== undefined && m[2] !== undefined) out.set(m[1], m[2]);
  }
  return (key) => {
    const v = out.get(key);
    if (v === undefined) throw new Error(`testhost: 'testhost.sh env' did not print ${key}`);
    return v;
  };
}

function sshExec(
  keyPath: string,
  port: number,
  ip: string,
  bindIp: string,
  controlPath: string | undefined,
  cmd: string,
  stdin?: string,
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const mux = controlPath
    ? ["-o", "ControlMaster=auto", "-o", `ControlPath=${controlPath}`, "-o", "ControlPersist=60"]
    : [];
  const args = [
    ...mux,
    // BindAddress: the source address exists only while the host's veth does, so a
    // host that is down fails at once instead of sending packets out the default route
    "-i", keyPath, "-p", String(port), "-o", `BindAddress=${bindIp}`,
    "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6",
    `root@${ip}`, "--", cmd,
  ];
  const timeoutMs = opts.timeoutMs ?? 600_000;
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.on("error", () => undefined); // remote side may close stdin early (EPIPE)
    child.stdin.end(stdin ?? "");
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`testhost: ssh ${ip} timed out after ${timeoutMs} ms: ${cmd}\n${stderr}`));
      else resolve({ code: code ?? 255, stdout, stderr });
    });
  });
}

/**
 * Boots host `id` (1..254) on a fresh overlay of the image and resolves once
 * `systemctl is-system-running --wait` answers over SSH (about 1 s).
 */
export async function bootHost(id: number, opts: BootOptions = {}): Promise<TestHost> {
  if (!Number.isInteger(id) || id < 1 || id > 254) throw new Error(`testhost: id must be 1..254, got ${id}`);
  installHandlers();
  if (opts.replace) await run("testhost.sh", ["down", String(id)]);
  booted.add(id); // before up: a half-made host is torn down at exit too
  try {
    await run("testhost.sh", ["up", String(id)]);
  } catch (err) {
    booted.delete(id); // `up` cleans up after itself when it fails
    throw err;
  }
  const e = parseEnv((await run("testhost.sh", ["env", String(id)])).stdout);
  const ip = e("HOST_IP");
  const sshKeyPath = e("SSH_KEY");
  const sshPort = Number(e("SSH_PORT"));
  const controlPath = opts.sshMultiplex ? path.join(e("RUN_DIR"), "ssh-mux") : undefined;
  const clientIp = e("CLIENT_IP");
  let isDown = false;
  return {
    id,
    ip,
    clientIp,
    untrustedIp: e("UNTRUSTED_IP"),
    sshKeyPath,
    sshPort,
    exec: (cmd, stdin, execOpts) =>
      isDown
        ? Promise.reject(new Error(`testhost: host ${id} is down`))
        : sshExec(sshKeyPath, sshPort, ip, clientIp, controlPath, cmd, stdin, execOpts),
    reboot: async () => {
      await run("testhost.sh", ["reboot", String(id)]);
    },
    down: async () => {
      isDown = true;
      await run("testhost.sh", ["down", String(id)]);
      booted.delete(id);
    },
  };
}
