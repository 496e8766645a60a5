// How a txlog process starts and stops, the same for every entry point: read
// the configuration (a bad value exits 2 naming it; a risky one is warned
// about, one line each), start (a failure exits 1 saying what it was trying
// to reach), say so, and on SIGINT or SIGTERM stop gracefully; a second
// signal exits at once. The exit code says how it ended.
import { type Config, ConfigError, configWarnings, loadConfigOrExit } from "./config.ts";
import { errorText } from "./error-text.ts";
import { type Logger, roleLogger } from "./logger.ts";

export interface Running {
  /** Settles when the process's work has ended and everything is closed; rejects when it ended on an error. */
  readonly done: Promise<void>;
  /** Asks for a graceful stop; `done` settles when it is over. */
  stop(): Promise<void>;
}

export interface ProcessSpec<R extends Running> {
  /** "API", "worker": how the process names itself in its lines. */
  name: string;
  /** The `role` field of its log lines: "api", "worker". */
  role: string;
  start(config: Config): Promise<R>;
  /** Logs the line that says it started. */
  logStarted(log: Logger, running: R, config: Config): void;
}

/** Runs a process to its end and exits with its code; never returns. */
export async function runProcess<R extends Running>(spec: ProcessSpec<R>): Promise<never> {
  const config = loadConfigOrExit();
  const log = roleLogger(spec.role);
  for (const warning of configWarnings(config)) log.warn(`${spec.name}: warning: ${warning}`);
  const running = await spec.start(config).catch((error: unknown) => exitOnStartFailure(log, spec.name, config, error));
  spec.logStarted(log, running, config);
  let signalled = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (signalled) {
        log.warn(`${spec.name}: second ${signal}, exiting at once`);
        process.exit(130);
      }
      signalled = true;
      log.info(`${spec.name}: ${signal}, stopping gracefully (a second signal exits at once)`);
      void running.stop();
    });
  }
  try {
    await running.done;
    log.info(`${spec.name}: stopped`);
    process.exit(0);
  } catch (error) {
    log.fatal({ err: error }, `${spec.name}: stopped on an error: ${errorText(error)}`);
    process.exit(1);
  }
}

/**
 * For a process whose start failed (most often Kafka or PostgreSQL not
 * reachable yet): says which it was trying, then exits 1.
 */
function exitOnStartFailure(log: Logger, name: string, config: Config, error: unknown): never {
  // A setting only judged at start (a key file, keys against HOST): exits as a bad value does.
  if (error instanceof ConfigError) {
    log.fatal(`txlog: bad configuration: ${error.message}`);
    process.exit(2);
  }
  const database = new URL(config.databaseUrl).host;
  log.fatal(
    { err: error },
    `txlog ${name} could not start (Kafka ${config.kafkaBrokers.join(",")}, database ${database}): ${errorText(error)}`,
  );
  process.exit(1);
}
