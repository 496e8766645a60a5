// The one way a txlog process turns its configuration into a Kafka
// connection: brokers, client id, timeout, SASL and TLS. The API, the
// worker, reconcile, the benchmark and the tests all build theirs here, so a
// client without the credentials cannot be written by accident.
import type { Config } from "../runtime/config.ts";
import type { KafkaConnection, KafkaSasl, KafkaTls } from "./client.ts";

type ConnectionConfig = Pick<
  Config,
  | "kafkaBrokers"
  | "kafkaClientId"
  | "kafkaTimeoutMs"
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

/** The connection of `config`; `role` ("api", "reconcile") is appended to the client id when given. */
export function kafkaConnection(config: ConnectionConfig, role?: string): KafkaConnection {
  const connection: KafkaConnection = {
    brokers: config.kafkaBrokers,
    clientId: role === undefined ? config.kafkaClientId : `${config.kafkaClientId}-${role}`,
    timeoutMs: config.kafkaTimeoutMs,
  };
  const sasl = saslOf(config);
  if (sasl !== undefined) connection.sasl = sasl;
  if (config.kafkaTls) connection.tls = tlsOf(config);
  return connection;
}

function saslOf(config: ConnectionConfig): KafkaSasl | undefined {
  if (config.kafkaSaslMechanism === "none") return undefined;
  const password = config.kafkaSaslPassword ?? config.kafkaSaslPasswordFile;
  // loadConfig refuses a mechanism without both; a hand-made config must not slip through.
  if (config.kafkaSaslUsername === undefined || password === undefined) {
    throw new Error(`KAFKA_SASL_MECHANISM=${config.kafkaSaslMechanism} needs a user name and a password`);
  }
  return { mechanism: config.kafkaSaslMechanism, username: config.kafkaSaslUsername, password };
}

function tlsOf(config: ConnectionConfig): KafkaTls {
  const tls: KafkaTls = {};
  if (config.kafkaTlsCaFile !== undefined) tls.ca = config.kafkaTlsCaFile;
  if (config.kafkaTlsCertFile !== undefined) tls.cert = config.kafkaTlsCertFile;
  if (config.kafkaTlsKeyFile !== undefined) tls.key = config.kafkaTlsKeyFile;
  if (config.kafkaTlsServername !== undefined) tls.serverName = config.kafkaTlsServername;
  return tls;
}
