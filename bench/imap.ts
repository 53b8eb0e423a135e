/**
 * Section 5: IMAP over TLS (993) with a real client library (imapflow), the server
 * certificate pinned: logins per second and single-message fetches per second, from
 * the test machine's address on the host link.
 */
import type { ImapFlow } from "imapflow";
import type { TestHost } from "../test/testhost/testhost";
import { imapLogin, pemFingerprint, peerFingerprint } from "./imapcheck";
import { BENCH_USERS } from "./throughput";
import { DOMAIN } from "../test/e2e/lib";
import { log, median, now, QUICK, remote, round } from "./util";

export const IMAP_ROUNDS = QUICK ? 1 : 3;
export const IMAP_CLIENTS = 4;
/** Per client and round. */
export const LOGINS_PER_CLIENT = 15;
export const FETCHES_PER_CLIENT = 50;
/** Messages put into the mailbox first. */
export const MAILBOX_MESSAGES = 200;

export interface ImapRound {
    round: number;
    logins: number;
    loginSeconds: number;
    loginsPerSecond: number;
    fetches: number;
    fetchSeconds: number;
    fetchesPerSecond: number;
    fetchedBytes: number;
}

export interface ImapResult {
    clients: number;
    rounds: number;
    mailboxMessages: number;
    perRound: ImapRound[];
    median: { loginsPerSecond: number; fetchesPerSecond: number };
}

/** Fills bench01's INBOX with MAILBOX_MESSAGES messages (smtp-source on the host, deployed config). */
async function fillMailbox(host: TestHost, user: string): Promise<void> {
    await remote(
        host,
        `set -euo pipefail
rm -rf /home/${user}/Maildir
smtp-source -s 4 -m ${MAILBOX_MESSAGES} -l 2048 -f client@${DOMAIN} -t ${user}@${DOMAIN} 127.0.0.1:25
for i in $(seq 600); do
  n=$(find /home/${user}/Maildir/new /home/${user}/Maildir/cur -type f 2>/dev/null | wc -l)
  [ "$n" -ge ${MAILBOX_MESSAGES} ] && exit 0
  sleep 0.1
done
echo "only $n of ${MAILBOX_MESSAGES} messages delivered" >&2; exit 1`,
    );
}

async function parallel<T>(n: number, f: (i: number) => Promise<T>): Promise<T[]> {
    return Promise.all(Array.from({ length: n }, (_, i) => f(i)));
}

export async function benchImap(host: TestHost): Promise<ImapResult> {
    const user = BENCH_USERS[0];
    await fillMailbox(host, user.name);
    const ca = await remote(host, "cat /etc/ssl/certs/mailhost.pem");
    const trust = { ca };
    // Warm-up: the first login builds Dovecot's index of the mailbox.
    {
        const c = await imapLogin(host, user.name, user.password, trust);
        if (peerFingerprint(c) !== pemFingerprint(ca)) throw new Error("IMAP: unexpected server certificate");
        const localAddress = (c as unknown as { socket?: { localAddress?: string } }).socket?.localAddress;
        if (localAddress !== host.clientIp) throw new Error(`IMAP: client bound to ${localAddress}, not ${host.clientIp}`);
        const box = await c.mailboxOpen("INBOX");
        if (box.exists < MAILBOX_MESSAGES) throw new Error(`IMAP: INBOX has ${box.exists} messages`);
        await c.logout();
    }
    const rounds: ImapRound[] = [];
    for (let r = 1; r <= IMAP_ROUNDS; r++) {
        // Logins: connect (TLS handshake), authenticate, SELECT INBOX, LOGOUT; one after another per client.
        const t0 = now();
        await parallel(IMAP_CLIENTS, async () => {
            for (let i = 0; i < LOGINS_PER_CLIENT; i++) {
                const c = await imapLogin(host, user.name, user.password, trust);
                await c.mailboxOpen("INBOX");
                await c.logout();
            }
        });
        const loginSeconds = now() - t0;
        // Fetches: each client logged in first, then FETCH BODY[] of one message at a time (by UID).
        const clients: ImapFlow[] = await parallel(IMAP_CLIENTS, async () => {
            const c = await imapLogin(host, user.name, user.password, trust);
            await c.mailboxOpen("INBOX");
            return c;
        });
        let bytes = 0;
        let fetchSeconds = 0;
        const t1 = now();
        try {
            await parallel(IMAP_CLIENTS, async (k) => {
                const c = clients[k];
                const uids = (await c.search({ all: true }, { uid: true })) || [];
                for (let i = 0; i < FETCHES_PER_CLIENT; i++) {
                    const uid = uids[(k * FETCHES_PER_CLIENT + i) % uids.length];
                    const msg = await c.fetchOne(String(uid), { source: true }, { uid: true });
                    if (!msg || !msg.source) throw new Error(`IMAP: UID ${uid} could not be fetched`);
                    bytes += msg.source.length;
                }
            });
        } finally {
            fetchSeconds = now() - t1;
            await Promise.all(clients.map((c) => c.logout().catch(() => c.close())));
        }
        const logins = IMAP_CLIENTS * LOGINS_PER_CLIENT;
        const fetches = IMAP_CLIENTS * FETCHES_PER_CLIENT;
        rounds.push({
            round: r,
            logins,
            loginSeconds: round(loginSeconds),
            loginsPerSecond: round(logins / loginSeconds, 1),
            fetches,
            fetchSeconds: round(fetchSeconds),
            fetchesPerSecond: round(fetches / fetchSeconds, 1),
            fetchedBytes: bytes,
        });
        log(`IMAP round ${r}: ${round(logins / loginSeconds, 1)} logins/s, ${round(fetches / fetchSeconds, 1)} fetches/s`);
    }
    return {
        clients: IMAP_CLIENTS,
        rounds: IMAP_ROUNDS,
        mailboxMessages: MAILBOX_MESSAGES,
        perRound: rounds,
        median: {
            loginsPerSecond: round(median(rounds.map((x) => x.loginsPerSecond)), 1),
            fetchesPerSecond: round(median(rounds.map((x) => x.fetchesPerSecond)), 1),
        },
    };
}
