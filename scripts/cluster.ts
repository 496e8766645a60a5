// A local Kafka cluster of several nodes, for fault tests and for trying
// txlog on replicated topics: the same Kafka build and jars as the single
// broker of scripts/broker.ts, one JVM per node, each with its own ports and
// data dir. Each node is broker and controller, all of them voters of the
// KRaft quorum; or, with `dedicatedController`, the nodes are brokers only
// and one more JVM is the quorum, so that losing brokers never loses the
// quorum and what a produce meets is the topics' own replication settings.
// Replication factor 3 and min.insync.replicas 2 (with three or more nodes):
// an acknowledged write is on two nodes at least, and one node may be lost.
// Tests kill and restart single brokers through `nodes`.
//
//   bun run broker --nodes 3
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { liveBrokerIds } from "../src/kafka/admin.ts";
import {
  formatStorage,
  freePort,
  kafkaJars,
  type NodeAddress,
  type NodeFiles,
  type NodeRoles,
  newClusterId,
  type Replication,
  spawnKafka,
  stopJava,
  waitUntilAnswers,
  writeNodeConfig,
} from "./broker.ts";

export interface ClusterOptions {
  nodes: number;
  /** One folder per node below it, and cluster.json (the ports and cluster id); kept between runs unless `ephemeral`. */
  dataDir: string;
  /** Remove dataDir on stop (tests); nodes are then killed, not shut down. */
  ephemeral?: boolean;
  /** Client ports on 127.0.0.1, one per node; free ones when absent. A kept dataDir keeps its own. */
  ports?: number[];
  /** The nodes are brokers only, and a controller-only node of its own holds the quorum. */
  dedicatedController?: boolean;
  /** Partitions of auto-created internal topics and the default for new topics. */
  partitions?: number;
  /** Longest wait for the nodes to answer after start, milliseconds. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ClusterNode {
  id: number;
  port: number;
  /** host:port for clients. */
  broker: string;
  logFile: string;
  /** The JVM's process id while it runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Sends a signal to the node's JVM (SIGKILL unless told): a crash, with no controlled shutdown. */
  kill(signal?: NodeJS.Signals): void;
  /** Starts the node again on its data dir; resolves once it answers (it needs a quorum of controllers for that). */
  start(): Promise<void>;
  /** Controlled shutdown. */
  stop(): Promise<void>;
}

export interface LocalCluster {
  brokers: string[];
  /** The brokers (with `dedicatedController`, the controller is not among them). */
  nodes: ClusterNode[];
  /** What the cluster's internal topics use and what txlog's topics should ask for. */
  replication: Replication;
  stop(): Promise<void>;
}

interface Layout {
  clusterId: string;
  nodes: NodeAddress[];
  /** The controller-only node, with `dedicatedController`. */
  controller?: NodeAddress;
}

/** Three copies where there are three nodes, and one of them may be missing. */
export function clusterReplication(nodes: number): Replication {
  const factor = Math.min(3, nodes);
  return { factor, minInsync: Math.max(1, factor - 1) };
}

/** Starts every node, then waits until each answers and all are registered brokers. */
export async function startCluster(options: ClusterOptions): Promise<LocalCluster> {
  const libs = await kafkaJars(options.log ?? ((line: string) => console.error(line)));
  const layout = await clusterLayout(options);
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  const prepare = (address: NodeAddress, roles: NodeRoles) =>
    prepareNode(libs, layout, options, address, roles).then((files) =>
      clusterNode(libs, address, files, roles === "controller" ? undefined : startTimeoutMs),
    );
  const controller = layout.controller && (await prepare(layout.controller, "controller"));
  const nodes = await Promise.all(layout.nodes.map((a) => prepare(a, controller ? "broker" : "broker,controller")));
  const all = controller ? [controller, ...nodes] : nodes;
  const killOnExit = () => {
    for (const node of all) node.kill("SIGTERM");
  };
  process.on("exit", killOnExit);
  const brokers = nodes.map((node) => node.broker);
  let stopped = false;
  const cluster: LocalCluster = {
    brokers,
    nodes,
    replication: clusterReplication(options.nodes),
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", killOnExit);
      if (options.ephemeral) for (const node of all) node.kill("SIGKILL");
      // Brokers first: their controlled shutdown needs the controller.
      await Promise.all(nodes.map((node) => node.stop()));
      await controller?.stop();
      if (options.ephemeral) await rm(options.dataDir, { recursive: true, force: true });
    },
  };
  try {
    await controller?.start();
    await Promise.all(nodes.map((node) => node.start()));
    await waitForBrokers(brokers, nodes.length, startTimeoutMs);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Writes a node's config and formats its storage (once). */
async function prepareNode(
  libs: string,
  layout: Layout,
  options: ClusterOptions,
  address: NodeAddress,
  roles: NodeRoles,
): Promise<NodeFiles> {
  const dataDir = join(options.dataDir, `node-${address.id}`);
  const files = await writeNodeConfig({
    node: address,
    roles,
    voters: layout.controller ? [layout.controller] : layout.nodes,
    dataDir,
    replication: clusterReplication(options.nodes),
    partitions: options.partitions ?? 3,
  });
  await formatStorage(libs, dataDir, files, layout.clusterId);
  return files;
}

/** The cluster's ports and id: read back from a kept dataDir, else chosen now and written there. */
async function clusterLayout(options: ClusterOptions): Promise<Layout> {
  const file = join(options.dataDir, "cluster.json");
  if (existsSync(file)) {
    const kept = JSON.parse(await readFile(file, "utf8")) as Layout;
    if (
      kept.nodes.length !== options.nodes ||
      (kept.controller !== undefined) !== (options.dedicatedController ?? false)
    ) {
      const kind = `${kept.nodes.length} nodes${kept.controller ? " and a dedicated controller" : ""}`;
      throw new Error(`${options.dataDir} holds another kind of cluster (${kind}); remove it to start this one`);
    }
    return kept;
  }
  if (options.ports !== undefined && options.ports.length !== options.nodes) {
    throw new Error(`${options.nodes} nodes need ${options.nodes} ports, got ${options.ports.length}`);
  }
  const taken = new Set(options.ports ?? []);
  const unusedPort = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const nodes: NodeAddress[] = [];
  for (let i = 0; i < options.nodes; i++) {
    const port = options.ports?.[i] ?? (await unusedPort());
    nodes.push({ id: i + 1, host: "127.0.0.1", port, controllerPort: await unusedPort() });
  }
  const controller = options.dedicatedController
    ? { id: options.nodes + 1, host: "127.0.0.1", port: 0, controllerPort: await unusedPort() }
    : undefined;
  const layout: Layout = { clusterId: newClusterId(), nodes, controller };
  await mkdir(options.dataDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(layout, null, 2)}\n`);
  return layout;
}

/** A node's JVM, started and killed at will; `startTimeoutMs` undefined: a controller, which clients cannot ask. */
function clusterNode(
  libs: string,
  address: NodeAddress,
  files: NodeFiles,
  startTimeoutMs: number | undefined,
): ClusterNode {
  let java: Subprocess | undefined;
  const running = () => java !== undefined && java.exitCode === null && java.signalCode === null;
  const broker = `${address.host}:${address.port}`;
  return {
    id: address.id,
    port: address.port,
    broker,
    logFile: files.logFile,
    get pid() {
      return running() ? java?.pid : undefined;
    },
    get running() {
      return running();
    },
    kill(signal = "SIGKILL") {
      if (running()) java?.kill(signal);
    },
    async start() {
      if (running()) throw new Error(`Kafka node ${address.id} is already running`);
      // A killed JVM's process must be gone before another binds its ports.
      await java?.exited;
      java = spawnKafka(libs, files, { initial: "128m", max: "512m" });
      if (startTimeoutMs !== undefined) await waitUntilAnswers(broker, java, files, startTimeoutMs);
    },
    async stop() {
      if (java !== undefined) await stopJava(java);
    },
  };
}

async function waitForBrokers(brokers: string[], count: number, timeoutMs: number): Promise<void> {
  const connection = { brokers, clientId: "txlog-cluster-probe", timeoutMs: 2000 };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = await liveBrokerIds(connection).catch(() => []);
    if (live.length >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${live.length} of ${count} Kafka nodes registered in time`);
    await Bun.sleep(250);
  }
}
