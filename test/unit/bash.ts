/** Running real bash (and shellcheck, when installed) on generated scripts. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface BashResult {
    status: number | null;
    stdout: string;
    stderr: string;
}

/** Runs `script` with `bash -c`, extra arguments as $1..., and `input` on stdin. */
export function bash(script: string, args: string[] = [], input = ""): BashResult {
    const r = spawnSync("bash", ["-c", script, "bash", ...args], { input, encoding: "utf8", env: process.env });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `bash -n` of a script: its status and what bash said (warnings included). */
export function bashSyntax(script: string): BashResult {
    const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The path of shellcheck, or undefined when it is not installed. */
export function shellcheckPath(): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        const p = path.join(dir, "shellcheck");
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            // not here
        }
    }
    return undefined;
}

export interface ShellcheckComment {
    line: number;
    code: number;
    level: string;
    message: string;
}

/**
 * Runs shellcheck once over many scripts (one process is much faster than one per
 * script) and returns its comments per script key.
 */
export function shellcheckAll(shellcheck: string, scripts: Map<string, string>): Map<string, ShellcheckComment[]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailhost-shellcheck-"));
    try {
        const files = new Map<string, string>();
        [...scripts.entries()].forEach(([key, text], i) => {
            const file = path.join(dir, `script-${i}.sh`);
            fs.writeFileSync(file, text);
            files.set(file, key);
        });
        const r = spawnSync(shellcheck, ["-s", "bash", "-f", "json1", ...files.keys()], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        if (r.error) throw r.error;
        const report = JSON.parse(r.stdout) as { comments: (ShellcheckComment & { file: string })[] };
        const out = new Map<string, ShellcheckComment[]>([...scripts.keys()].map((k) => [k, []]));
        for (const c of report.comments) {
            out.get(files.get(c.file)!)!.push({ line: c.line, code: c.code, level: c.level, message: c.message });
        }
        return out;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * The script a delete command runs (`[sudo -n ]bash -c '<script>' </dev/null`),
 * unquoted by bash itself: the command with `bash -c` replaced by `printf %s`.
 */
export function innerScriptOfDelete(deleteCommand: string): string {
    const m = /^(sudo -n )?bash -c ('.*') <\/dev\/null$/s.exec(deleteCommand);
    if (!m) throw new Error(`not a delete command: ${deleteCommand.slice(0, 80)}`);
    const r = bash(`printf %s ${m[2]}`);
    if (r.status !== 0) throw new Error(`could not unquote the delete command: ${r.stderr}`);
    return r.stdout;
}
