/**
 * The rendered config files of the chapter's system, compared with the files in
 * test/expected/<os>/. Run the tests with UPDATE_EXPECTED=1 to rewrite those files
 * (then review the diff: it is what the hosts will run).
 */
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { renderAliasesBlock } from "../../components/aliases";
import { renderNamedConf, renderZone } from "../../components/dns";
import { renderDovecotConf } from "../../components/dovecot";
import { OsName, platformFor } from "../../components/platform";
import { renderMainCf, renderMasterCf } from "../../components/postfix";
import { REPO_ROOT } from "../harness/program";
import { chapterConfig, parse } from "./fixtures";

export const EXPECTED_DIR = path.join(REPO_ROOT, "test", "expected");
export const UPDATE_EXPECTED = process.env.UPDATE_EXPECTED === "1";

/** The files of test/expected/<os>/, by name. */
export type ChapterFile = "main.cf" | "master.cf" | "dovecot.conf" | "named.conf" | "linuxprobe.com.zone" | "aliases-block";
export const CHAPTER_FILES: ChapterFile[] = ["main.cf", "master.cf", "dovecot.conf", "named.conf", "linuxprobe.com.zone", "aliases-block"];

/** The chapter's config (Pulumi.dev.yaml) rendered for `os` by the pure render functions. */
export function renderChapterFiles(os: OsName): Record<ChapterFile, string> {
    const cfg = parse({ ...chapterConfig(), os });
    const platform = platformFor(os);
    const { certFile, keyFile } = platform.tls;
    return {
        "main.cf": renderMainCf(platform, {
            domain: cfg.domain,
            hostname: cfg.hostname,
            trustedNetworks: cfg.trustedNetworks,
            certFile,
            keyFile,
            extraSettings: cfg.postfixSettings,
            milters: platform.dkimSocket.postfix,
        }),
        "master.cf": renderMasterCf(),
        "dovecot.conf": renderDovecotConf({
            domain: cfg.domain,
            certFile,
            keyFile,
            allowPlaintextAuth: cfg.allowPlaintextAuth,
            firstValidUid: platform.firstUid,
            extraSettings: cfg.dovecotSettings,
        }),
        "named.conf": renderNamedConf(platform, cfg.domain),
        "linuxprobe.com.zone": renderZone({
            domain: cfg.domain,
            hostname: cfg.hostname,
            address: cfg.publicIp!,
            dmarcPolicy: cfg.dmarcPolicy,
            extraRecords: cfg.extraRecords,
        }),
        "aliases-block": renderAliasesBlock(platform, cfg.aliases),
    };
}

/** Asserts that `actual` equals test/expected/<os>/<file> (or rewrites it with UPDATE_EXPECTED=1). */
export function assertExpected(os: OsName, file: ChapterFile, actual: string): void {
    const p = path.join(EXPECTED_DIR, os, file);
    if (UPDATE_EXPECTED) {
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, actual);
        return;
    }
    assert.ok(fs.existsSync(p), `${p} is missing: run the tests once with UPDATE_EXPECTED=1 and review the files`);
    assert.equal(actual, fs.readFileSync(p, "utf8"), `${os}/${file} differs from test/expected (UPDATE_EXPECTED=1 rewrites it)`);
}
