// The warm-up before anything is timed: a broker that has just started spends
// its first tens of seconds compiling (its JIT), and the first run on it cost
// it about twice the CPU of the third. So --warmup-rows generated rows are
// produced to a topic of the run's own and consumed back, with the Kafka
// ceiling's code, before the ceilings and the pipeline. Reported, not counted:
// nothing of it reaches the run's topic, database or figures.
import { deleteTopics } from "../src/kafka/admin.ts";
import { kafkaCeiling } from "./ceilings.ts";
import { generatedRows } from "./rows.ts";
import { produceSettings, type Run } from "./run.ts";

/** The warm-up before timing: reported, not counted. */
export interface WarmupFigures {
  rows: number;
  seconds: number;
  produceRowsPerSecond: number;
  consumeRowsPerSecond: number;
}

export async function warmUp({ options, connection, prefix, config, progress, say }: Run): Promise<WarmupFigures> {
  const rows = options.warmupRows;
  if (rows === 0) return { rows: 0, seconds: 0, produceRowsPerSecond: 0, consumeRowsPerSecond: 0 };
  const topic = `${prefix}.warmup`;
  let produced = 0;
  progress.start("warm-up: Kafka produce and consume (not counted)", rows, () => ({ done: produced }));
  const startedMs = performance.now();
  // Another seed than the replay's: the same rows are not what is warmed up, the broker is.
  const kafka = await kafkaCeiling(
    connection,
    { topic, groupId: `${prefix}-warmup` },
    config.topicPartitions,
    generatedRows(rows, options.seed + 1),
    {
      ...produceSettings,
      onProgress: (n) => {
        produced = n;
      },
    },
  );
  const seconds = (performance.now() - startedMs) / 1000;
  // Best effort: cleanUp() deletes whatever of the run's prefix is left.
  await deleteTopics(connection, [topic]).catch(() => {});
  say(
    `warm-up (not counted): ${rows} rows through Kafka in ${seconds.toFixed(2)} s (produce ${kafka.produce.rowsPerSecond.toFixed(0)} rows/s, consume ${kafka.consume.rowsPerSecond.toFixed(0)} rows/s)`,
  );
  return {
    rows,
    seconds,
    produceRowsPerSecond: kafka.produce.rowsPerSecond,
    consumeRowsPerSecond: kafka.consume.rowsPerSecond,
  };
}
