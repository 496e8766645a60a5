// A real Apache Kafka 4 broker (KRaft, one node acting as broker and
// controller) for development, tests and the benchmark, run from jars that
// Maven fetches into a cache outside the repository. Users with Docker run the
// official image from docker-compose.yml instead.
//
//   bun run broker        start one in the foreground; Ctrl-C stops it
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";
import { kafkaAnswers } from "../src/kafka/admin.ts";

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
  log?: (line: string) => void;
}

/**
 * Uses the broker at `options.broker` when it answers; otherwise, for a
 * loopback address, starts one there and waits until it answers.
 */
export async function ensureBroker(options: BrokerOptions): Promise<LocalBroker> {
  const connection = { brokers: [options.broker], clientId: "txlog-broker-probe", timeoutMs: 2000 };
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

async function startBroker(options: BrokerOptions & { host: string; port: number }): Promise<LocalBroker> {
  const log = options.log ?? ((line: string) => console.error(line));
  const libs = await kafkaJars(log);
  const dataDir = options.dataDir;
  const logDir = join(dataDir, "logs");
  const logFile = join(logDir, "server.log");
  await mkdir(logDir, { recursive: true });

  // The controller listener only needs to be free now; it is written into the
  // config so a restart on the same data dir finds the same quorum.
  const configFile = join(dataDir, "server.properties");
  let controllerPort: number;
  const previous = existsSync(configFile) ? await readFile(configFile, "utf8") : "";
  const kept = /CONTROLLER:\/\/127\.0\.0\.1:(\d+)/.exec(previous);
  controllerPort = kept ? Number(kept[1]) : await freePort();
  if (controllerPort === options.port) controllerPort = await freePort();

  const properties = [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://${options.host}:${options.port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${options.host}:${options.port}`,
    "controller.listener.names=CONTROLLER",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "inter.broker.listener.name=PLAINTEXT",
    `log.dirs=${join(dataDir, "data")}`,
    `num.partitions=${options.partitions ?? 3}`,
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=3",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    // Topics are created by txlog with their intended partition count.
    "auto.create.topics.enable=false",
    "delete.topic.enable=true",
  ].join("\n");
  await writeFile(configFile, `${properties}\n`);
  const log4jFile = join(dataDir, "log4j2.properties");
  await writeFile(
    log4jFile,
    [
      "status = warn",
      "appender.file.type = File",
      "appender.file.name = file",
      `appender.file.fileName = ${logFile}`,
      "appender.file.layout.type = PatternLayout",
      "appender.file.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = INFO",
      "rootLogger.appenderRef.file.ref = file",
      "",
    ].join("\n"),
  );

  const javaBase = ["java", "-cp", join(libs, "*"), `-Dlog4j2.configurationFile=${log4jFile}`];
  if (!existsSync(join(dataDir, "data", "meta.properties"))) {
    const clusterId = newClusterId();
    const format = spawn([...javaBase, "kafka.tools.StorageTool", "format", "-t", clusterId, "-c", configFile], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([
      new Response(format.stdout).text(),
      new Response(format.stderr).text(),
      format.exited,
    ]);
    if (code !== 0) throw new Error(`formatting Kafka storage in ${dataDir} failed (exit ${code}):\n${out}${err}`);
  }

  const stdoutFile = join(logDir, "stdout.log");
  const java: Subprocess = spawn(
    [
      ...javaBase.slice(0, 1),
      "-Xms256m",
      "-Xmx1g",
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-Djava.awt.headless=true",
      ...javaBase.slice(1),
      "kafka.Kafka",
      configFile,
    ],
    { stdout: Bun.file(stdoutFile), stderr: Bun.file(stdoutFile), stdin: "ignore" },
  );

  // If this process dies without stop(), the broker must not outlive it.
  const killOnExit = () => java.kill("SIGTERM");
  process.on("exit", killOnExit);

  const broker = `${options.host}:${options.port}`;
  const connection = { brokers: [broker], clientId: "txlog-broker-probe", timeoutMs: 2000 };
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (!(await kafkaAnswers(connection))) {
    if (java.exitCode !== null) {
      throw new Error(
        `the Kafka broker exited with code ${java.exitCode} while starting; see ${logFile} and ${stdoutFile}`,
      );
    }
    if (Date.now() > deadline) {
      java.kill("SIGKILL");
      throw new Error(`the Kafka broker did not answer at ${broker} in time; see ${logFile}`);
    }
    await Bun.sleep(250);
  }

  let stopped = false;
  return {
    brokers: [broker],
    started: true,
    logFile,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", killOnExit);
      // SIGTERM runs Kafka's controlled shutdown; it flushes and closes the log.
      java.kill("SIGTERM");
      const exited = await Promise.race([java.exited.then(() => true), Bun.sleep(30_000).then(() => false)]);
      if (!exited) {
        java.kill("SIGKILL");
        await java.exited;
      }
      if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

if (import.meta.main) {
  const { loadConfigOrExit } = await import("../src/runtime/config.ts");
  const config = loadConfigOrExit();
  const broker = await ensureBroker({
    broker: config.kafkaBrokers[0] as string,
    dataDir: join(root, ".txlog", "kafka"),
    partitions: config.topicPartitions,
  });
  if (!broker.started) {
    console.log(`a Kafka broker already answers at ${broker.brokers.join(",")}`);
    process.exit(0);
  }
  console.log(`Kafka broker up at ${broker.brokers.join(",")} (log: ${broker.logFile}); Ctrl-C stops it`);
  const shutdown = async () => {
    await broker.stop();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

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
