// A local broker's client listener with authentication: SASL_PLAINTEXT, or
// SASL_SSL with a PEM certificate, taking PLAIN, SCRAM-SHA-256 and
// SCRAM-SHA-512 for one user, as a managed Kafka would. SCRAM credentials
// are written into the metadata when the storage is formatted (KRaft, Kafka
// 3.5 and later), so the broker accepts them from its first start. Brokers
// talk to each other over the same listener with PLAIN; the controller
// listener stays plaintext on 127.0.0.1.
import type { KafkaConnection } from "../src/kafka/client.ts";
import type { Config } from "../src/runtime/config.ts";
import { Secret } from "../src/runtime/secret.ts";

export interface BrokerSecurity {
  sasl: { username: string; password: string };
  /** PEM files: the broker's unencrypted PKCS#8 key followed by its certificate chain, and the CA clients trust. */
  tls?: { keyStoreFile: string; caFile: string };
}

export type ClientProtocol = "PLAINTEXT" | "SASL_PLAINTEXT" | "SASL_SSL";

const scramMechanisms = ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
// Kept to characters that need no quoting in JAAS, properties or the storage tool's arguments.
const credentialPattern = /^[A-Za-z0-9._-]{1,64}$/;

export function clientProtocol(security: BrokerSecurity | undefined): ClientProtocol {
  if (security === undefined) return "PLAINTEXT";
  return security.tls === undefined ? "SASL_PLAINTEXT" : "SASL_SSL";
}

function checkCredentials({ username, password }: BrokerSecurity["sasl"]): void {
  if (!credentialPattern.test(username) || !credentialPattern.test(password)) {
    throw new Error("a local broker's SASL user name and password must be 1 to 64 of letters, digits, '.', '_' or '-'");
  }
}

/** server.properties lines of the client listener's SASL (and TLS). */
export function securityProperties(security: BrokerSecurity): string[] {
  checkCredentials(security.sasl);
  const { username, password } = security.sasl;
  const prefix = `listener.name.${clientProtocol(security).toLowerCase()}`;
  const lines = [
    `sasl.enabled.mechanisms=PLAIN,${scramMechanisms.join(",")}`,
    "sasl.mechanism.inter.broker.protocol=PLAIN",
    `${prefix}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${username}" password="${password}" user_${username}="${password}";`,
    ...scramMechanisms.map(
      (mechanism) =>
        `${prefix}.${mechanism.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    ),
  ];
  if (security.tls !== undefined) {
    lines.push(
      "ssl.keystore.type=PEM",
      `ssl.keystore.location=${security.tls.keyStoreFile}`,
      "ssl.truststore.type=PEM",
      `ssl.truststore.location=${security.tls.caFile}`,
      // Brokers reach each other at 127.0.0.1; the certificate names it.
      "ssl.endpoint.identification.algorithm=https",
    );
  }
  return lines;
}

/** Arguments of `kafka-storage format` that create the user's SCRAM credentials. */
export function scramFormatArgs(security: BrokerSecurity | undefined): string[] {
  if (security === undefined) return [];
  checkCredentials(security.sasl);
  const { username, password } = security.sasl;
  return scramMechanisms.flatMap((mechanism) => [
    "--add-scram",
    `${mechanism}=[name=${username},password=${password}]`,
  ]);
}

/** What a client needs to reach the listener: SCRAM-SHA-512 as the user, and the CA when TLS. */
export async function clientSecurity(
  security: BrokerSecurity | undefined,
): Promise<Pick<KafkaConnection, "sasl" | "tls">> {
  if (security === undefined) return {};
  const sasl = {
    mechanism: "SCRAM-SHA-512" as const,
    username: security.sasl.username,
    password: new Secret(security.sasl.password),
  };
  if (security.tls === undefined) return { sasl };
  return { sasl, tls: { ca: await Bun.file(security.tls.caFile).text() } };
}

/**
 * `bun run broker --sasl`: a broker that accepts the user txlog is configured
 * with (KAFKA_SASL_USERNAME and its password), on a SASL_PLAINTEXT listener.
 */
export function securityOfConfig(
  config: Pick<Config, "kafkaSaslMechanism" | "kafkaSaslUsername" | "kafkaSaslPassword" | "kafkaSaslPasswordFile">,
): BrokerSecurity {
  const password = config.kafkaSaslPassword ?? config.kafkaSaslPasswordFile;
  if (config.kafkaSaslMechanism === "none" || config.kafkaSaslUsername === undefined || password === undefined) {
    throw new Error(
      "--sasl needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: the broker accepts that user",
    );
  }
  return { sasl: { username: config.kafkaSaslUsername, password: password.reveal() } };
}
