// The rules that tie the Kafka security settings together, and the warning
// for a password sent in clear. Each error names the variable to fix and
// never shows a password.
import type { Config } from "./config.ts";
import { ConfigError } from "./setting-types.ts";

export const saslMechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
export type SaslMechanism = (typeof saslMechanisms)[number];

type SecurityConfig = Pick<
  Config,
  | "kafkaBrokers"
  | "kafkaSaslMechanism"
  | "kafkaSaslUsername"
  | "kafkaSaslPassword"
  | "kafkaSaslPasswordFile"
  | "kafkaTls"
  | "kafkaTlsCaFile"
  | "kafkaTlsCertFile"
  | "kafkaTlsKeyFile"
  | "kafkaTlsServername"
>;

/** Throws ConfigError when the security settings contradict each other or miss a part. */
export function checkKafkaSecurity(config: SecurityConfig): void {
  checkSasl(config);
  checkTls(config);
}

function checkSasl(config: SecurityConfig): void {
  const mechanism = config.kafkaSaslMechanism;
  const password = config.kafkaSaslPassword ?? config.kafkaSaslPasswordFile;
  if (mechanism === "none") {
    const given = [
      ["KAFKA_SASL_USERNAME", config.kafkaSaslUsername],
      ["KAFKA_SASL_PASSWORD", config.kafkaSaslPassword],
      ["KAFKA_SASL_PASSWORD_FILE", config.kafkaSaslPasswordFile],
    ].find(([, value]) => value !== undefined);
    if (given !== undefined) {
      throw new ConfigError(
        "KAFKA_SASL_MECHANISM",
        `must be one of ${saslMechanisms.join(", ")} when ${given[0]} is set (none sends no credentials)`,
        mechanism,
      );
    }
    return;
  }
  if (config.kafkaSaslUsername === undefined) {
    throw new ConfigError("KAFKA_SASL_USERNAME", `must be set when KAFKA_SASL_MECHANISM is ${mechanism}`, "");
  }
  if (config.kafkaSaslPassword !== undefined && config.kafkaSaslPasswordFile !== undefined) {
    throw new ConfigError("KAFKA_SASL_PASSWORD", "must not be set together with KAFKA_SASL_PASSWORD_FILE", "***");
  }
  if (password === undefined) {
    throw new ConfigError(
      "KAFKA_SASL_PASSWORD",
      `or KAFKA_SASL_PASSWORD_FILE must be set when KAFKA_SASL_MECHANISM is ${mechanism}`,
      "",
    );
  }
}

function checkTls(config: SecurityConfig): void {
  if (!config.kafkaTls) {
    const given = [
      ["KAFKA_TLS_CA_FILE", config.kafkaTlsCaFile],
      ["KAFKA_TLS_CERT_FILE", config.kafkaTlsCertFile],
      ["KAFKA_TLS_KEY_FILE", config.kafkaTlsKeyFile],
      ["KAFKA_TLS_SERVERNAME", config.kafkaTlsServername],
    ].find(([, value]) => value !== undefined);
    if (given !== undefined) {
      throw new ConfigError(given[0] as string, "is set, but KAFKA_TLS is false: set KAFKA_TLS=true", String(given[1]));
    }
    return;
  }
  if ((config.kafkaTlsCertFile === undefined) !== (config.kafkaTlsKeyFile === undefined)) {
    const [missing, given] =
      config.kafkaTlsCertFile === undefined
        ? ["KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE"]
        : ["KAFKA_TLS_KEY_FILE", "KAFKA_TLS_CERT_FILE"];
    throw new ConfigError(missing, `must be set when ${given} is (a client certificate needs its key)`, "");
  }
}

/** Lines for configWarnings: PLAIN without TLS to a broker off this machine sends the password readable. */
export function kafkaSecurityWarnings(config: SecurityConfig): string[] {
  if (config.kafkaSaslMechanism !== "PLAIN" || config.kafkaTls) return [];
  const remote = config.kafkaBrokers.filter((broker) => !isLoopback(broker));
  if (remote.length === 0) return [];
  return [
    `KAFKA_SASL_MECHANISM=PLAIN without KAFKA_TLS=true: the SASL password crosses the network in clear to ${remote.join(",")}; set KAFKA_TLS=true (or use SCRAM-SHA-512)`,
  ];
}

function isLoopback(broker: string): boolean {
  const host = broker.slice(0, broker.lastIndexOf(":")).toLowerCase();
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
