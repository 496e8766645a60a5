// Certificates for a test broker's TLS listener, made with openssl: a CA of
// the test's own and a server certificate for 127.0.0.1 and localhost signed
// by it, as PEM files (Kafka reads a PEM key store: the key, then the chain).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawn } from "bun";

export interface TestCertificates {
  /** The CA clients trust (KAFKA_TLS_CA_FILE). */
  caFile: string;
  /** The broker's unencrypted PKCS#8 key followed by its certificate. */
  keyStoreFile: string;
}

/** Days the certificates are valid: a test run needs one. */
const validDays = 2;

async function openssl(args: string[], cwd: string): Promise<void> {
  const child = spawn(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (exit ${code}): ${err}`);
}

export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const days = String(validDays);
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      days,
      "-subj",
      "/CN=txlog test CA",
    ],
    dir,
  );
  await openssl(
    ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
    dir,
  );
  await writeFile(join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      days,
      "-extfile",
      "san.cnf",
    ],
    dir,
  );
  const keyStoreFile = join(dir, "server-keystore.pem");
  await writeFile(
    keyStoreFile,
    (await Bun.file(join(dir, "server.key")).text()) + (await Bun.file(join(dir, "server.pem")).text()),
  );
  return { caFile: join(dir, "ca.pem"), keyStoreFile };
}
