/**
 * Pebble (Let's Encrypt's ACME test server, Debian package `pebble`) on the test machine,
 * bound to its address on one test host's link: the host's certbot talks ACME to it and
 * Pebble validates HTTP-01 by resolving the name through the host's own BIND and
 * fetching http://<name>/.well-known/acme-challenge/... from the host. Its HTTPS
 * listener gets a certificate from a throw-away CA made here, which the stack trusts
 * through `mailhost:acme.caBundle`.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import type { TestHost } from "../testhost/testhost";
import { run } from "./lib";

export interface Pebble {
    /** The ACME directory URL. */
    directory: string;
    /** PEM of the CA that signed Pebble's HTTPS certificate (for `acme.caBundle`). */
    listenerCa: string;
    /** PEM of the root and intermediate Pebble issues certificates under (new at each start). */
    issuer(): Promise<{ root: string; intermediate: string }>;
    /** Everything Pebble logged. */
    log(): string;
    stop(): Promise<void>;
}

const ACME_PORT = 14000;
const MANAGEMENT_PORT = 15000;

async function openssl(args: string[]): Promise<void> {
    const r = await run("openssl", args);
    if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

function get(url: string, ca: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const req = https.get(url, { ca, timeout: 5000 }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
        });
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error(`${url}: timed out`)));
    });
}

/** Starts Pebble for `host` (after the host is up: it listens on the host link's address). */
export async function startPebble(host: TestHost): Promise<Pebble> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailhost-pebble-"));
    const f = (name: string) => path.join(dir, name);
    await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mailhost e2e ACME listener CA", "-keyout", f("ca.key"), "-out", f("ca.pem")]);
    await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${host.clientIp}`, "-keyout", f("pebble.key"), "-out", f("pebble.csr")]);
    fs.writeFileSync(f("ext.cnf"), `subjectAltName=IP:${host.clientIp}\n`);
    await openssl(["x509", "-req", "-in", f("pebble.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("ext.cnf"), "-out", f("pebble.pem")]);
    fs.writeFileSync(
        f("config.json"),
        JSON.stringify({
            pebble: {
                listenAddress: `${host.clientIp}:${ACME_PORT}`,
                managementListenAddress: `${host.clientIp}:${MANAGEMENT_PORT}`,
                certificate: f("pebble.pem"),
                privateKey: f("pebble.key"),
                httpPort: 80,
                tlsPort: 443,
                ocspResponderURL: "",
                externalAccountBindingRequired: false,
            },
        }),
    );
    const listenerCa = fs.readFileSync(f("ca.pem"), "utf8");
    let output = "";
    // No sleeps before validation, no random nonce rejections: fast and deterministic.
    const child: ChildProcess = spawn("pebble", ["-config", f("config.json"), "-dnsserver", `${host.ip}:53`], {
        env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
        stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const directory = `https://${host.clientIp}:${ACME_PORT}/dir`;
    const management = `https://${host.clientIp}:${MANAGEMENT_PORT}`;
    const stop = async () => {
        if (child.exitCode === null) {
            child.kill("SIGTERM");
            await exited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    for (let i = 0; ; i++) {
        try {
            await get(directory, listenerCa);
            break;
        } catch (e) {
            if (i >= 50 || child.exitCode !== null) {
                await stop();
                throw new Error(`pebble did not start: ${e}\n${output}`);
            }
            await new Promise((r) => setTimeout(r, 100));
        }
    }
    return {
        directory,
        listenerCa,
        issuer: async () => ({ root: await get(`${management}/roots/0`, listenerCa), intermediate: await get(`${management}/intermediates/0`, listenerCa) }),
        log: () => output,
        stop,
    };
}
