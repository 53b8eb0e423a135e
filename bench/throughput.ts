/**
 * Section 4: delivery throughput of the deployed host, measured ON the host with
 * Postfix's own smtp-source against 127.0.0.1 (no traffic leaves the host), next to
 * the chapter's literal Postfix configuration (local delivery to mbox) and to
 * smtp-sink (an SMTP server that accepts and discards: the SMTP ceiling of this
 * machine), all on the same host, in interleaved rounds.
 */
import type { TestHost } from "../test/testhost/testhost";
import { DOMAIN, HOSTNAME } from "../test/e2e/lib";
import { log, median, QUICK, remote, round, sleep } from "./util";

export const MESSAGES = QUICK ? 200 : 2000;
export const SESSIONS = 10;
export const THROUGHPUT_ROUNDS = QUICK ? 1 : 3;
/** Users the messages go to (round robin over the sessions). */
export const BENCH_USERS = Array.from({ length: 10 }, (_, i) => ({ name: `bench${String(i + 1).padStart(2, "0")}`, password: `bench-password-${i + 1}` }));
/** Bound of one run: all N delivered and the queue empty by then, or the bench fails. */
const RUN_TIMEOUT_SECONDS = 180;
const SINK_PORT = 2525;

export type Variant = "deployed" | "deployed-no-dkim" | "chapter-mbox" | "smtp-sink";

export const VARIANTS: { id: Variant; label: string }[] = [
    { id: "deployed", label: "deployed (Maildir via Dovecot LMTP, DKIM milter)" },
    { id: "chapter-mbox", label: "chapter's main.cf (local delivery to /var/mail mbox)" },
    { id: "smtp-sink", label: "smtp-sink (accept and discard: SMTP ceiling)" },
    { id: "deployed-no-dkim", label: "diagnostic: deployed main.cf without the DKIM milter" },
];

export interface ThroughputRun {
    variant: Variant;
    round: number;
    /** smtp-source start -> every smtp-source exited (all N accepted with 250). */
    acceptSeconds: number;
    /** smtp-source start -> all N in the users' mailboxes and the queue empty (smtp-sink: = accept). */
    deliverSeconds: number;
    acceptedPerSecond: number;
    deliveredPerSecond: number;
}

export interface ThroughputResult {
    messages: number;
    sessions: number;
    users: number;
    rounds: number;
    messageBytes: number;
    runs: ThroughputRun[];
    median: Record<Variant, { acceptedPerSecond: number; deliveredPerSecond: number }>;
    /** deployed delivered/s ÷ chapter's mbox delivered/s. */
    ratioVsChapter: number;
    /** deployed delivered/s ÷ smtp-sink accepted/s. */
    ratioVsSink: number;
}

const DIR = "/root/mailhost-bench";

/** The chapter's main.cf (table 15-1) on Postfix's defaults: no TLS, no milter, local(8) delivery to /var/mail. */
export function chapterMainCf(host: TestHost): string {
    return [
        "# The chapter's literal configuration (table 15-1), for the bench: local delivery to mbox.",
        "compatibility_level = 3.6",
        "readme_directory = no",
        `myhostname = ${HOSTNAME}`,
        `mydomain = ${DOMAIN}`,
        "myorigin = $mydomain",
        "inet_interfaces = all",
        "inet_protocols = ipv4",
        "mydestination = $myhostname, $mydomain",
        // The chapter trusts its LAN (192.168.10.0/24); here: loopback and the test machine.
        `mynetworks = 127.0.0.0/8 ${host.clientIp}/32`,
        "alias_maps = hash:/etc/aliases",
        "alias_database = hash:/etc/aliases",
        "",
    ].join("\n");
}

/** Saves the deployed main.cf and writes the variants beside it (once). */
export async function prepareVariants(host: TestHost): Promise<void> {
    await remote(
        host,
        [
            "set -euo pipefail",
            `mkdir -p ${DIR}/deployed ${DIR}/deployed-no-dkim ${DIR}/chapter-mbox`,
            `cp -p /etc/postfix/main.cf ${DIR}/deployed/main.cf`,
            `grep -vE '^(smtpd_milters|non_smtpd_milters|milter_default_action) ' ${DIR}/deployed/main.cf >${DIR}/deployed-no-dkim/main.cf`,
            `cat >${DIR}/chapter-mbox/main.cf <<'EOF'\n${chapterMainCf(host)}EOF`,
            `for v in deployed-no-dkim chapter-mbox; do cp /etc/postfix/master.cf ${DIR}/$v/; postfix -c ${DIR}/$v check; done`,
            "command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null",
        ].join("\n"),
    );
}

/** Installs the main.cf of `variant` (smtp-sink runs beside the deployed one) and reloads Postfix. */
async function switchTo(host: TestHost, variant: Variant): Promise<void> {
    const dir = variant === "smtp-sink" ? "deployed" : variant;
    await remote(host, `set -e; if ! cmp -s ${DIR}/${dir}/main.cf /etc/postfix/main.cf; then cp -p ${DIR}/${dir}/main.cf /etc/postfix/main.cf; postfix reload 2>/dev/null; sleep 1; fi`);
}

/** Puts the deployed main.cf back. */
export async function restoreDeployed(host: TestHost): Promise<void> {
    await switchTo(host, "deployed");
}

/**
 * The script of one run, all on the host: C smtp-source processes of one session each
 * (N/C messages each, recipient bench<k>), then polling (every 0.1 s) until the N
 * messages are in the mailboxes and the queue is empty. Prints "t0 t1 t2 delivered queued failed".
 */
function runScript(kind: "maildir" | "mbox" | "sink", n: number, c: number): string {
    const users = BENCH_USERS.map((u) => u.name).join(" ");
    const port = kind === "sink" ? SINK_PORT : 25;
    const count = {
        maildir: "find /home/bench*/Maildir/new /home/bench*/Maildir/cur -type f 2>/dev/null | wc -l",
        mbox: "cat /var/mail/bench* 2>/dev/null | grep -c '^From ' || true",
        sink: `echo ${n}`,
    }[kind];
    return `set -uo pipefail
users=(${users})
count() { ${count}; }
queued() { find /var/spool/postfix/incoming /var/spool/postfix/active /var/spool/postfix/deferred /var/spool/postfix/maildrop /var/spool/postfix/hold -type f 2>/dev/null | wc -l; }
# Empty mailboxes and queue before the run.
rm -f /home/bench*/Maildir/new/* /home/bench*/Maildir/cur/* /var/mail/bench*
[ "$(queued)" = 0 ] || { echo "queue not empty before the run" >&2; exit 1; }
${
    kind === "sink"
        ? `smtp-sink -u nobody 127.0.0.1:${port} 256 >/dev/null 2>&1 & sink=$!
trap 'kill $sink 2>/dev/null' EXIT
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && break; sleep 0.05; done`
        : ""
}
t0=$(date +%s.%N)
pids=()
for i in $(seq 0 $((${c} - 1))); do
  u=\${users[$((i % \${#users[@]}))]}
  m=$(( ${n} / ${c} + (i < ${n} % ${c} ? 1 : 0) ))
  smtp-source -s 1 -m $m -f client@${DOMAIN} -t $u@${DOMAIN} 127.0.0.1:${port} & pids+=($!)
done
failed=0
for p in "\${pids[@]}"; do wait $p || failed=$((failed + 1)); done
t1=$(date +%s.%N)
end=$(( $(date +%s) + ${RUN_TIMEOUT_SECONDS} ))
while :; do
  d=$(count); q=$(queued)
  if [ "$d" -ge ${n} ] && [ "$q" = 0 ]; then break; fi
  if [ "$failed" != 0 ] || [ "$(date +%s)" -ge $end ]; then break; fi
  sleep 0.1
done
t2=$(date +%s.%N)
size=$(find /home/bench01/Maildir/new /home/bench01/Maildir/cur -type f 2>/dev/null | head -1 | xargs -r stat -c %s)
echo "$t0 $t1 $t2 $d $q $failed \${size:-0}"
`;
}

async function oneRun(host: TestHost, variant: Variant, roundNo: number, n = MESSAGES, c = SESSIONS): Promise<ThroughputRun> {
    await switchTo(host, variant);
    const kind = variant === "smtp-sink" ? "sink" : variant === "chapter-mbox" ? "mbox" : "maildir";
    const out = await remote(host, runScript(kind, n, c), (RUN_TIMEOUT_SECONDS + 120) * 1000);
    const [t0, t1, t2, delivered, queued, failed, size] = out.trim().split(/\s+/).map(Number);
    if (size > 0) lastMessageBytes = size;
    if (failed !== 0 || delivered < n || queued !== 0) {
        throw new Error(`throughput ${variant}: ${failed} smtp-source failed, ${delivered}/${n} delivered, ${queued} queued`);
    }
    const acceptSeconds = t1 - t0;
    const deliverSeconds = kind === "sink" ? acceptSeconds : t2 - t0;
    return {
        variant,
        round: roundNo,
        acceptSeconds: round3(acceptSeconds),
        deliverSeconds: round3(deliverSeconds),
        acceptedPerSecond: round(n / acceptSeconds, 1),
        deliveredPerSecond: round(n / deliverSeconds, 1),
    };
}

let lastMessageBytes = 0;

function round3(x: number): number {
    return round(x, 3);
}

export async function benchThroughput(host: TestHost): Promise<ThroughputResult> {
    await prepareVariants(host);
    // Warm-up (not recorded): first use of smtpd, LMTP, local, the milter and the maps.
    for (const v of VARIANTS) await oneRun(host, v.id, 0, 100, SESSIONS);
    const runs: ThroughputRun[] = [];
    for (let r = 1; r <= THROUGHPUT_ROUNDS; r++) {
        // Rotate the order each round so no variant always runs first.
        const order = VARIANTS.map((_, i) => VARIANTS[(i + r - 1) % VARIANTS.length]);
        for (const v of order) {
            const run = await oneRun(host, v.id, r);
            runs.push(run);
            log(`throughput round ${r} ${v.id}: accepted ${run.acceptedPerSecond}/s, delivered ${run.deliveredPerSecond}/s`);
            await sleep(500);
        }
    }
    await restoreDeployed(host);
    const med = Object.fromEntries(
        VARIANTS.map((v) => {
            const mine = runs.filter((x) => x.variant === v.id);
            return [v.id, { acceptedPerSecond: round(median(mine.map((x) => x.acceptedPerSecond)), 1), deliveredPerSecond: round(median(mine.map((x) => x.deliveredPerSecond)), 1) }];
        }),
    ) as ThroughputResult["median"];
    return {
        messages: MESSAGES,
        sessions: SESSIONS,
        users: BENCH_USERS.length,
        rounds: THROUGHPUT_ROUNDS,
        messageBytes: lastMessageBytes,
        runs,
        median: med,
        ratioVsChapter: round(med.deployed.deliveredPerSecond / med["chapter-mbox"].deliveredPerSecond, 2),
        ratioVsSink: round(med.deployed.deliveredPerSecond / med["smtp-sink"].acceptedPerSecond, 3),
    };
}
