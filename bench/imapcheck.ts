/** IMAP clients for the bench (imapflow, TLS on 993), bound to the test machine's address on the host link. */
import { X509Certificate } from "crypto";
import type { ConnectionOptions } from "tls";
import { ImapFlow } from "imapflow";
import type { TestHost } from "../test/testhost/testhost";
import { HOSTNAME } from "../test/e2e/lib";
import { now, sleep } from "./util";

export interface TlsTrust {
    /** PEM of the host's certificate to trust; undefined: accept any (fingerprint checked afterwards). */
    ca?: string;
}

/** A connected, logged-in client. TLS verified against `trust.ca` and the host name when given. */
export async function imapLogin(host: TestHost, user: string, password: string, trust: TlsTrust): Promise<ImapFlow> {
    // localAddress is a net.connect option that tls.connect passes on (imapflow hands `tls` to tls.connect).
    const tls = trust.ca
        ? { ca: trust.ca, servername: HOSTNAME, rejectUnauthorized: true, localAddress: host.clientIp }
        : { rejectUnauthorized: false, localAddress: host.clientIp };
    const client = new ImapFlow({
        host: host.ip,
        port: 993,
        secure: true,
        auth: { user, pass: password },
        logger: false,
        connectionTimeout: 20_000,
        greetingTimeout: 20_000,
        socketTimeout: 60_000,
        tls: tls as ConnectionOptions,
    });
    client.on("error", () => undefined); // errors surface through the awaited calls
    await client.connect();
    return client;
}

/** SHA-256 fingerprint (as Node prints it) of a PEM certificate. */
export function pemFingerprint(pem: string): string {
    return new X509Certificate(pem).fingerprint256;
}

/** The fingerprint of the certificate the server presented on this client's connection. */
export function peerFingerprint(client: ImapFlow): string | undefined {
    const socket = (client as unknown as { socket?: { getPeerCertificate?: () => { fingerprint256?: string } } }).socket;
    return socket?.getPeerCertificate?.()?.fingerprint256;
}

/**
 * Logs in and waits (bounded) until a message whose Subject contains `subject` is in
 * INBOX, then reads it whole. Resolves with the peer certificate's fingerprint.
 */
export async function waitAndRead(host: TestHost, user: string, password: string, subject: string, trust: TlsTrust, timeoutSeconds = 60): Promise<{ fingerprint?: string; seconds: number }> {
    const t0 = now();
    const client = await imapLogin(host, user, password, trust);
    try {
        const fingerprint = peerFingerprint(client);
        const lock = await client.getMailboxLock("INBOX");
        try {
            for (;;) {
                const uids = await client.search({ header: { subject } }, { uid: true });
                if (uids && uids.length > 0) {
                    const msg = await client.fetchOne(String(uids[0]), { source: true }, { uid: true });
                    if (!msg || !msg.source || !msg.source.toString().includes(subject)) throw new Error("IMAP: the message was found but could not be read");
                    return { fingerprint, seconds: now() - t0 };
                }
                if (now() - t0 > timeoutSeconds) throw new Error(`IMAP: no message '${subject}' for ${user} after ${timeoutSeconds} s`);
                await sleep(100);
                await client.noop();
            }
        } finally {
            lock.release();
        }
    } finally {
        await client.logout().catch(() => client.close());
    }
}
