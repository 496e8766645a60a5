// No Docker engine runs here, so docker-compose.yml is checked by reading it:
// its services, ports and variables must agree with src/runtime/config.ts.
import { expect, test } from "bun:test";
import { parse } from "yaml";
import { loadConfig, settings } from "../../src/runtime/config.ts";

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parse(await Bun.file(new URL("../../docker-compose.yml", import.meta.url)).text(), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const known = new Set(Object.values(settings).map((setting) => setting.variable));

test("it has Kafka (official image, KRaft), PostgreSQL, the API and the worker, each with a healthcheck", () => {
  expect(Object.keys(services).sort()).toEqual(["api", "kafka", "postgres", "worker"]);
  expect(services.kafka?.image).toMatch(/^apache\/kafka:4\./);
  expect(services.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe("broker,controller");
  expect(services.postgres?.image).toMatch(/^postgres:/);
  for (const [name, service] of Object.entries(services)) {
    expect(service.healthcheck?.test.length, `${name} healthcheck`).toBeGreaterThan(0);
  }
  expect(services.api?.command).toEqual(["bun", "run", "src/api.ts"]);
  expect(services.worker?.command).toEqual(["bun", "run", "src/worker.ts"]);
});

for (const name of ["api", "worker"]) {
  test(`${name}: every variable is a txlog setting with a valid value, pointing at the compose services`, () => {
    const env = services[name]?.environment ?? {};
    for (const variable of Object.keys(env)) expect(known.has(variable), `${variable} is a setting`).toBe(true);
    const config = loadConfig(env); // throws on a bad value
    const [kafkaHost, kafkaPort] = (config.kafkaBrokers[0] as string).split(":");
    expect(kafkaHost).toBe("kafka");
    expect(services.kafka?.environment?.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://kafka:${kafkaPort}`);
    const db = new URL(config.databaseUrl);
    expect(db.hostname).toBe("postgres");
    expect(db.password).toBe(services.postgres?.environment?.POSTGRES_PASSWORD as string);
    expect(db.pathname).toBe(`/${services.postgres?.environment?.POSTGRES_DB}`);
    expect(services[name]?.depends_on).toEqual({
      kafka: { condition: "service_healthy" },
      postgres: { condition: "service_healthy" },
    });
  });
}

test("the API listens on all interfaces at the published port", () => {
  const config = loadConfig(services.api?.environment ?? {});
  expect(config.host).toBe("0.0.0.0");
  expect(services.api?.ports).toEqual([`${config.port}:${config.port}`]);
  expect(JSON.stringify(services.api?.healthcheck?.test)).toContain(`:${config.port}/health`);
});
