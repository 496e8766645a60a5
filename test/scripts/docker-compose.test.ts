// No Docker engine runs here, so docker-compose.yml is checked by reading it:
// its services, ports and variables must agree with src/runtime/config.ts.
import { expect, test } from "bun:test";
import { parse } from "yaml";
import { loadConfig, settings } from "../../src/runtime/config.ts";

interface Service {
  image?: string;
  profiles?: string[];
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  volumes?: string[];
}
const compose = parse(await Bun.file(new URL("../../docker-compose.yml", import.meta.url)).text(), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const known = new Set(Object.values(settings).map((setting) => setting.variable));

const inProfile = (profile: string | undefined) =>
  Object.keys(services)
    .filter((name) => services[name]?.profiles?.[0] === profile)
    .sort();

test("it has Kafka (official image, KRaft), PostgreSQL, the API and the worker, each with a healthcheck", () => {
  expect(inProfile(undefined)).toEqual(["api", "kafka", "postgres", "worker"]);
  expect(services.kafka?.image).toMatch(/^apache\/kafka:4\./);
  expect(services.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe("broker,controller");
  expect(services.postgres?.image).toMatch(/^postgres:/);
  for (const [name, service] of Object.entries(services)) {
    expect(service.healthcheck?.test.length, `${name} healthcheck`).toBeGreaterThan(0);
  }
  expect(services.api?.command).toEqual(["bun", "run", "src/api.ts"]);
  expect(services.worker?.command).toEqual(["bun", "run", "src/worker.ts"]);
});

test("txlog's processes restart on failure and are healthy only when ready (not merely alive)", () => {
  for (const name of ["api", "worker", "api-cluster", "worker-cluster"]) {
    const service = services[name];
    expect(service?.restart, `${name} restart`).toBe("unless-stopped");
    const port = name.startsWith("api") ? settings.port.defaultValue : settings.workerPort.defaultValue;
    expect(service?.healthcheck?.test.join(" "), `${name} healthcheck`).toContain(`127.0.0.1:${port}/ready`);
  }
});

const stacks = [
  { names: ["api", "worker"], kafka: ["kafka"], database: "txlog", replication: [1, 1] },
  {
    names: ["api-cluster", "worker-cluster"],
    kafka: ["kafka-1", "kafka-2", "kafka-3"],
    database: "txlog_cluster",
    replication: [3, 2],
  },
];
for (const stack of stacks) {
  for (const name of stack.names) {
    test(`${name}: every variable is a txlog setting with a valid value, pointing at the compose services`, () => {
      const env = services[name]?.environment ?? {};
      for (const variable of Object.keys(env)) expect(known.has(variable), `${variable} is a setting`).toBe(true);
      const config = loadConfig(env); // throws on a bad value
      expect(config.kafkaBrokers.map((broker) => broker.split(":")[0])).toEqual(stack.kafka);
      for (const broker of config.kafkaBrokers) {
        const [host] = broker.split(":");
        expect(services[host as string]?.environment?.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://${broker}`);
      }
      expect([config.replicationFactor, config.minInsyncReplicas]).toEqual(stack.replication);
      const db = new URL(config.databaseUrl);
      expect(db.hostname).toBe("postgres");
      expect(db.password).toBe(services.postgres?.environment?.POSTGRES_PASSWORD as string);
      // The API creates a missing database; the image creates POSTGRES_DB.
      expect(db.pathname).toBe(`/${stack.database}`);
      const dependencies = Object.fromEntries(
        [...stack.kafka, "postgres"].map((service) => [service, { condition: "service_healthy" }]),
      );
      expect(services[name]?.depends_on).toEqual(dependencies);
      expect(services[name]?.profiles).toEqual(stack.kafka.length > 1 ? ["cluster"] : undefined);
    });
  }
}

test("the cluster profile: three Kafka nodes of the same image, one cluster id, a 3-voter quorum, RF 3 and min ISR 2", () => {
  expect(inProfile("cluster")).toEqual(["api-cluster", "kafka-1", "kafka-2", "kafka-3", "worker-cluster"]);
  const nodes = ["kafka-1", "kafka-2", "kafka-3"].map((name) => ({ name, ...services[name] }));
  const voters = nodes.map((node, i) => `${i + 1}@${node.name}:9093`).join(",");
  const volumes = new Set<string>();
  for (const [i, node] of nodes.entries()) {
    const env = node.environment ?? {};
    expect(node.image).toBe(services.kafka?.image as string);
    expect(env.KAFKA_NODE_ID).toBe(String(i + 1));
    expect(env.KAFKA_PROCESS_ROLES).toBe("broker,controller");
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(voters);
    expect(env.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://${node.name}:9092`);
    // A KRaft cluster id: 16 bytes, URL-safe base64, the same on every node.
    expect(env.CLUSTER_ID).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(Buffer.from(env.CLUSTER_ID as string, "base64url")).toHaveLength(16);
    expect(env.CLUSTER_ID).toBe(nodes[0]?.environment?.CLUSTER_ID as string);
    expect({
      replication: env.KAFKA_DEFAULT_REPLICATION_FACTOR,
      minInsync: env.KAFKA_MIN_INSYNC_REPLICAS,
      unclean: env.KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE,
      offsets: env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR,
      transactionState: [env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR, env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR],
    }).toEqual({ replication: "3", minInsync: "2", unclean: "false", offsets: "3", transactionState: ["3", "2"] });
    expect(node.healthcheck?.test.length).toBeGreaterThan(0);
    for (const volume of node.volumes ?? []) volumes.add(volume.split(":")[0] as string);
  }
  expect(volumes.size).toBe(3);
  // Beside the single-node stack: its API on another port.
  expect(services["api-cluster"]?.ports).toEqual(["127.0.0.1:8001:8000"]);
});

test("the API listens on all interfaces in its container, published on the host's loopback only while it has no keys", () => {
  for (const name of ["api", "api-cluster"]) {
    const config = loadConfig(services[name]?.environment ?? {});
    expect(config.host).toBe("0.0.0.0");
    // Without keys an API off loopback must be allowed explicitly, and then only the host itself reaches it.
    expect(config.apiKeys).toEqual([]);
    expect(config.allowOpenApi).toBe(true);
    for (const port of services[name]?.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    expect(services[name]?.ports?.[0]?.endsWith(`:${config.port}`)).toBe(true);
    expect(JSON.stringify(services[name]?.healthcheck?.test)).toContain(`:${config.port}/ready`);
  }
  expect(services.api?.ports).toEqual([`127.0.0.1:${settings.port.defaultValue}:${settings.port.defaultValue}`]);
});
