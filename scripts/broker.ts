// A real Apache Kafka 4 broker (KRaft, one node acting as broker and
// controller) for development, tests and the benchmark, run from jars that
// Maven fetches into a cache outside the repository. Users with Docker run the
// official image from docker-compose.yml instead.
//
//   bun run broker             start one in the foreground; Ctrl-C stops it
//   bun run broker --nodes 3   a three-node cluster instead (scripts/cluster.ts)
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";
import { kafkaAnswers } from "../src/kafka/admin.ts";
import {
  type BrokerSecurity,
  type ClientProtocol,
  clientProtocol,
  clientSecurity,
  scramFormatArgs,
  securityOfConfig,
  securityProperties,
} from "./broker-security.ts";

const root = join(import.meta.dir, "..");
const pomFile = join(root, "scripts", "kafka", "pom.xml");

export function cacheDir(): string {
  return process.env.TXLOG_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "txlog");
}

export interface LocalBroker {
  /** Bootstrap brokers to give clients. */
  brokers: string[];
  /** False when a broker was already answering and this one reused it. */
  started: boolean;
  /** Where Kafka writes its own log (when started). */
  logFile?: string;
  stop(): Promise<void>;
}

export interface BrokerOptions {
  /** host:port the broker must answer on; only loopback addresses are started here. */
  broker: string;
  /** Kafka's data and config; kept between runs unless `ephemeral`. */
  dataDir: string;
  /** Remove dataDir on stop (tests). */
  ephemeral?: boolean;
  /** Partitions of auto-created internal topics and the default for new topics. */
  partitions?: number;
  /** Longest wait for the broker to answer after start, milliseconds. */
  startTimeoutMs?: number;
  /** Clients must authenticate (SASL, and TLS when given); absent: a plaintext listener. */
  security?: BrokerSecurity;
  log?: (line: string) => void;
}

/**
 * Uses the broker at `options.broker` when it answers; otherwise, for a
 * loopback address, starts one there and waits until it answers.
 */
export async function ensureBroker(options: BrokerOptions): Promise<LocalBroker> {
  const connection = {
    brokers: [options.broker],
    clientId: "txlog-broker-probe",
    timeoutMs: 2000,
    ...(await clientSecurity(options.security)),
  };
  if (await kafkaAnswers(connection)) {
    return { brokers: [options.broker], started: false, stop: async () => {} };
  }
  const [host, portText] = splitHostPort(options.broker);
  if (!["127.0.0.1", "localhost"].includes(host)) {
    throw new Error(`no Kafka broker answers at ${options.broker}, and only a loopback address can be started here`);
  }
  return startBroker({ ...options, host, port: Number(portText) });
}

function splitHostPort(broker: string): [string, string] {
  const at = broker.lastIndexOf(":");
  return [broker.slice(0, at), broker.slice(at + 1)];
}

/** Resolves the broker's jars into the cache once; returns the classpath folder. */
export async function kafkaJars(log: (line: string) => void = () => {}): Promise<string> {
  const pom = await readFile(pomFile);
  const key = createHash("sha256").update(pom).digest("hex").slice(0, 12);
  const libs = join(cacheDir(), `kafka-${key}`, "libs");
  if (existsSync(join(libs, ".complete"))) return libs;

  log(`txlog: fetching the Kafka broker's jars with Maven into ${libs}`);
  const partial = `${libs}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  const mvn = spawn(
    [
      "mvn",
      "-q",
      "-B",
      "-f",
      pomFile,
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${partial}`,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([
    new Response(mvn.stdout).text(),
    new Response(mvn.stderr).text(),
    mvn.exited,
  ]);
  if (code !== 0) throw new Error(`mvn could not fetch the Kafka jars (exit ${code}):\n${out}${err}`);
  await writeFile(join(partial, ".complete"), `${new Date().toISOString()}\n`);
  await mkdir(join(libs, ".."), { recursive: true });
  try {
    await rename(partial, libs);
  } catch (error) {
    // Another run finished first; its copy is as good as ours.
    if (!existsSync(join(libs, ".complete"))) throw error;
    await rm(partial, { recursive: true, force: true });
  }
  return libs;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** One Kafka node's place in a KRaft quorum: its client and controller listeners. */
export interface NodeAddress {
  id: number;
  host: string;
  /** The client (PLAINTEXT) port; unused on a controller-only node. */
  port: number;
  controllerPort: number;
}

/** Replication of the internal topics and the defaults for new topics. */
export interface Replication {
  factor: number;
  minInsync: number;
}

/** What a node does: serve clients (broker), hold the metadata quorum (controller), or both. */
export type NodeRoles = "broker,controller" | "broker" | "controller";

export interface NodeSpec {
  node: NodeAddress;
  roles: NodeRoles;
  /** Every controller of the quorum, this node included when it is one. */
  voters: NodeAddress[];
  dataDir: string;
  replication: Replication;
  partitions: number;
  /** Authentication on the client listener; absent: plaintext. */
  security?: BrokerSecurity;
}

/** Java heap sizes, as -Xms and -Xmx take them. */
export interface Heap {
  initial: string;
  max: string;
}

/** Where a node keeps its config and logs. */
export interface NodeFiles {
  configFile: string;
  log4jFile: string;
  logFile: string;
  stdoutFile: string;
}

/** server.properties of a node; the topic defaults go to every role (in KRaft the controller applies them). */
export function nodeProperties({ node, roles, voters, dataDir, replication, partitions, security }: NodeSpec): string {
  const protocol = clientProtocol(security);
  return [
    `process.roles=${roles}`,
    `node.id=${node.id}`,
    `controller.quorum.voters=${voters.map((v) => `${v.id}@127.0.0.1:${v.controllerPort}`).join(",")}`,
    ...listenerProperties(node, roles, protocol),
    "controller.listener.names=CONTROLLER",
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,${protocol}:${protocol}`,
    ...(security === undefined ? [] : securityProperties(security)),
    `log.dirs=${join(dataDir, "data")}`,
    ...topicDefaults(replication, partitions),
    "",
  ].join("\n");
}

function listenerProperties(node: NodeAddress, roles: NodeRoles, protocol: ClientProtocol): string[] {
  const client = `${protocol}://${node.host}:${node.port}`;
  const controller = `CONTROLLER://127.0.0.1:${node.controllerPort}`;
  if (roles === "controller") return [`listeners=${controller}`];
  const listeners = roles === "broker" ? client : `${client},${controller}`;
  return [`listeners=${listeners}`, `advertised.listeners=${client}`, `inter.broker.listener.name=${protocol}`];
}

function topicDefaults({ factor, minInsync }: Replication, partitions: number): string[] {
  return [
    `num.partitions=${partitions}`,
    `default.replication.factor=${factor}`,
    `min.insync.replicas=${minInsync}`,
    // A replica that fell out of sync never becomes leader: it would drop
    // acknowledged writes.
    "unclean.leader.election.enable=false",
    `offsets.topic.replication.factor=${factor}`,
    "offsets.topic.num.partitions=3",
    `transaction.state.log.replication.factor=${factor}`,
    `transaction.state.log.min.isr=${minInsync}`,
    `share.coordinator.state.topic.replication.factor=${factor}`,
    `share.coordinator.state.topic.min.isr=${minInsync}`,
    "group.initial.rebalance.delay.ms=0",
    // Topics are created by txlog with their intended partition count.
    "auto.create.topics.enable=false",
    "delete.topic.enable=true",
  ];
}

/** Writes the node's server.properties and Log4j config into its data dir. */
export async function writeNodeConfig(spec: NodeSpec): Promise<NodeFiles> {
  const logDir = join(spec.dataDir, "logs");
  await mkdir(logDir, { recursive: true });
  const files: NodeFiles = {
    configFile: join(spec.dataDir, "server.properties"),
    log4jFile: join(spec.dataDir, "log4j2.properties"),
    logFile: join(logDir, "server.log"),
    stdoutFile: join(logDir, "stdout.log"),
  };
  await writeFile(files.configFile, nodeProperties(spec));
  await writeFile(
    files.log4jFile,
    [
      "status = warn",
      "appender.file.type = File",
      "appender.file.name = file",
      `appender.file.fileName = ${files.logFile}`,
      "appender.file.layout.type = PatternLayout",
      "appender.file.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = INFO",
      "rootLogger.appenderRef.file.ref = file",
      "",
    ].join("\n"),
  );
  return files;
}

function javaCommand(libs: string, files: NodeFiles, main: string[], jvm: string[] = []): string[] {
  return ["java", ...jvm, "-cp", join(libs, "*"), `-Dlog4j2.configurationFile=${files.log4jFile}`, ...main];
}

/** Formats the node's storage for `clusterId`, once: a formatted dir is left alone. */
export async function formatStorage(
  libs: string,
  dataDir: string,
  files: NodeFiles,
  clusterId: string,
  security?: BrokerSecurity,
): Promise<void> {
  if (existsSync(join(dataDir, "data", "meta.properties"))) return;
  const format = spawn(
    javaCommand(libs, files, [
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId,
      "-c",
      files.configFile,
      ...scramFormatArgs(security),
    ]),
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([
    new Response(format.stdout).text(),
    new Response(format.stderr).text(),
    format.exited,
  ]);
  if (code !== 0) throw new Error(`formatting Kafka storage in ${dataDir} failed (exit ${code}):\n${out}${err}`);
}

/** Starts the node's JVM; its output goes to stdout.log beside Kafka's own log. */
export function spawnKafka(libs: string, files: NodeFiles, heap: Heap): Subprocess {
  const jvm = [
    `-Xms${heap.initial}`,
    `-Xmx${heap.max}`,
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
  ];
  const output = Bun.file(files.stdoutFile);
  return spawn(javaCommand(libs, files, ["kafka.Kafka", files.configFile], jvm), {
    stdout: output,
    stderr: output,
    stdin: "ignore",
  });
}

/** Waits until `broker` answers a metadata request; fails when the JVM exits or time runs out. */
export async function waitUntilAnswers(
  broker: string,
  java: Subprocess,
  files: NodeFiles,
  timeoutMs: number,
  security?: BrokerSecurity,
): Promise<void> {
  const connection = {
    brokers: [broker],
    clientId: "txlog-broker-probe",
    timeoutMs: 2000,
    ...(await clientSecurity(security)),
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await kafkaAnswers(connection))) {
    if (java.exitCode !== null) {
      throw new Error(
        `the Kafka broker at ${broker} exited with code ${java.exitCode} while starting; see ${files.logFile} and ${files.stdoutFile}`,
      );
    }
    if (Date.now() > deadline) {
      java.kill("SIGKILL");
      throw new Error(`the Kafka broker did not answer at ${broker} in time; see ${files.logFile}`);
    }
    await Bun.sleep(250);
  }
}

/** SIGTERM (Kafka's controlled shutdown flushes and closes the log), SIGKILL after `graceMs`. */
export async function stopJava(java: Subprocess, graceMs = 30_000): Promise<void> {
  if (java.exitCode !== null || java.signalCode !== null) return;
  java.kill("SIGTERM");
  // A timer, not Bun.sleep: it must not keep this process alive once the JVM is gone.
  const timer = setTimeout(() => java.kill("SIGKILL"), graceMs);
  await java.exited;
  clearTimeout(timer);
}

async function startBroker(options: BrokerOptions & { host: string; port: number }): Promise<LocalBroker> {
  const log = options.log ?? ((line: string) => console.error(line));
  const libs = await kafkaJars(log);
  const { dataDir } = options;
  const node = { id: 1, host: options.host, port: options.port, controllerPort: await controllerPort(options) };
  const files = await writeNodeConfig({
    node,
    roles: "broker,controller",
    voters: [node],
    dataDir,
    replication: { factor: 1, minInsync: 1 },
    partitions: options.partitions ?? 3,
    security: options.security,
  });
  await formatStorage(libs, dataDir, files, newClusterId(), options.security);
  const java = spawnKafka(libs, files, { initial: "256m", max: "1g" });
  // If this process dies without stop(), the broker must not outlive it.
  const killOnExit = () => java.kill("SIGTERM");
  process.on("exit", killOnExit);
  const broker = `${options.host}:${options.port}`;
  await waitUntilAnswers(broker, java, files, options.startTimeoutMs ?? 60_000, options.security);

  let stopped = false;
  return {
    brokers: [broker],
    started: true,
    logFile: files.logFile,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", killOnExit);
      await stopJava(java);
      if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The controller listener only needs to be free now; it is written into the
 * config so a restart on the same data dir finds the same quorum.
 */
async function controllerPort(options: { dataDir: string; port: number }): Promise<number> {
  const configFile = join(options.dataDir, "server.properties");
  const previous = existsSync(configFile) ? await readFile(configFile, "utf8") : "";
  const kept = /CONTROLLER:\/\/127\.0\.0\.1:(\d+)/.exec(previous);
  const port = kept ? Number(kept[1]) : await freePort();
  return port === options.port ? freePort() : port;
}

/** Defaults of `bun run broker --nodes N` when KAFKA_BROKERS does not name N local addresses. */
const clusterBasePort = 9192;

/** `bun run broker [--nodes N | --sasl]`: runs until Ctrl-C. */
async function main(): Promise<void> {
  const { parseArgs } = await import("node:util");
  const { loadConfigOrExit } = await import("../src/runtime/config.ts");
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { nodes: { type: "string", default: "1" }, sasl: { type: "boolean", default: false } },
  });
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) {
    console.error(`--nodes must be an integer from 1 to 9 (got ${values.nodes})`);
    process.exit(2);
  }
  const config = loadConfigOrExit();
  if (values.sasl && nodes !== 1) {
    console.error("--sasl starts one broker; leave out --nodes");
    process.exit(2);
  }
  let security: BrokerSecurity | undefined;
  try {
    security = values.sasl ? securityOfConfig(config) : undefined;
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const stop = nodes === 1 ? await mainBroker(config, security) : await mainCluster(config.kafkaBrokers, nodes, config);
  const shutdown = async () => {
    await stop();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

async function mainBroker(
  config: { kafkaBrokers: string[]; topicPartitions: number },
  security: BrokerSecurity | undefined,
): Promise<() => Promise<void>> {
  const broker = await ensureBroker({
    broker: config.kafkaBrokers[0] as string,
    dataDir: join(root, ".txlog", security === undefined ? "kafka" : "kafka-sasl"),
    partitions: config.topicPartitions,
    security,
  });
  if (!broker.started) {
    console.log(`a Kafka broker already answers at ${broker.brokers.join(",")}`);
    process.exit(0);
  }
  console.log(`Kafka broker up at ${broker.brokers.join(",")} (log: ${broker.logFile}); Ctrl-C stops it`);
  return () => broker.stop();
}

/** A cluster on the ports KAFKA_BROKERS names when it names `nodes` local addresses, else on 9192 and up. */
async function mainCluster(
  brokers: string[],
  nodes: number,
  config: { topicPartitions: number },
): Promise<() => Promise<void>> {
  const { startCluster } = await import("./cluster.ts");
  const local = brokers.map(splitHostPort).filter(([host]) => ["127.0.0.1", "localhost"].includes(host));
  const ports =
    local.length === nodes && brokers.length === nodes
      ? local.map(([, port]) => Number(port))
      : Array.from({ length: nodes }, (_, i) => clusterBasePort + i);
  const first = `127.0.0.1:${ports[0]}`;
  if (await kafkaAnswers({ brokers: [first], clientId: "txlog-broker-probe", timeoutMs: 2000 })) {
    console.log(`a Kafka broker already answers at ${first}`);
    process.exit(0);
  }
  const dataDir = join(root, ".txlog", `kafka-cluster-${nodes}`);
  const cluster = await startCluster({ nodes, dataDir, ports, partitions: config.topicPartitions });
  const { factor, minInsync } = cluster.replication;
  console.log(
    `Kafka cluster of ${nodes} nodes up at ${cluster.brokers.join(",")} (logs: ${dataDir}/node-*/logs/server.log); Ctrl-C stops it`,
  );
  console.log(
    `for txlog: KAFKA_BROKERS=${cluster.brokers.join(",")} KAFKA_REPLICATION_FACTOR=${factor} KAFKA_MIN_INSYNC_REPLICAS=${minInsync}`,
  );
  return () => cluster.stop();
}

if (import.meta.main) await main();

/**
 * A random KRaft cluster id: 16 bytes in URL-safe base64. One starting with
 * "-" is drawn again, as Kafka's own Uuid.randomUuid does, because the storage
 * tool's argument parser would read it as an option (1 draw in 64; it failed
 * a CI run).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}
