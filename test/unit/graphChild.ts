/**
 * Runs the harness child (test/harness/child.ts) with two hooks on Pulumi's mock
 * monitor, to record what the harness does not: for every registered resource its
 * parent, dependencies and resource options, and every invoke (data source call).
 *
 * The harness child prints its `ProgramRun` JSON on stdout; this wrapper appends one
 * more line with the recorded graph when the process exits.
 */
import * as fs from "fs";
import * as path from "path";

/** What the hooks record about one registered resource. */
export interface GraphNode {
    urn: string;
    type: string;
    name: string;
    parent: string;
    /** URNs the resource depends on (dependsOn, and resources its inputs come from). */
    dependencies: string[];
    additionalSecretOutputs: string[];
    ignoreChanges: string[];
    provider: string;
}

export interface Invoke {
    token: string;
    args: Record<string, unknown>;
    provider: string;
}

export interface Graph {
    nodes: GraphNode[];
    invokes: Invoke[];
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getIgnorechangesList(): string[];
    getProvider(): string;
}

interface InvokeRequest {
    getTok(): string;
    getArgs(): unknown;
    getProvider(): string;
}

interface MockMonitorProto {
    newUrn(parent: string, type: string, name: string): string;
    registerResource(req: RegisterRequest, callback: unknown): Promise<void>;
    invoke(req: InvokeRequest, callback: unknown): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const mocks: { MockMonitor: { prototype: MockMonitorProto } } = require("@pulumi/pulumi/runtime/mocks");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpc: { deserializeProperties(s: unknown): Record<string, unknown> } = require("@pulumi/pulumi/runtime/rpc");

const graph: Graph = { nodes: [], invokes: [] };
const proto = mocks.MockMonitor.prototype;

const registerResource = proto.registerResource;
proto.registerResource = function (this: MockMonitorProto, req, callback) {
    graph.nodes.push({
        urn: this.newUrn(req.getParent(), req.getType(), req.getName()),
        type: req.getType(),
        name: req.getName(),
        parent: req.getParent(),
        dependencies: req.getDependenciesList(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        ignoreChanges: req.getIgnorechangesList(),
        provider: req.getProvider(),
    });
    return registerResource.call(this, req, callback);
};

const invoke = proto.invoke;
proto.invoke = function (this: MockMonitorProto, req, callback) {
    graph.invokes.push({ token: req.getTok(), args: rpc.deserializeProperties(req.getArgs()), provider: req.getProvider() });
    return invoke.call(this, req, callback);
};

process.on("exit", () => {
    fs.writeSync(1, `\n${JSON.stringify(graph)}\n`);
});

// eslint-disable-next-line @typescript-eslint/no-require-imports
require(path.join(__dirname, "..", "harness", "child"));
