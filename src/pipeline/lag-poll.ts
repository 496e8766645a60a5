// Every WORKER_LAG_POLL_MS, one ListOffsets round for the end offsets of the
// partitions a consumer owns; with the committed offsets the consumer keeps,
// that gives each partition's lag, for /metrics and /ready. The client's
// fetch responses carry high watermarks too, but its messages stream does
// not hand them out, so they are asked for here: one request per poll, on the
// consumer's own connections.
import { type KafkaConsumer, type KafkaStream, partitionProgress } from "../kafka/client.ts";
import { errorText } from "../runtime/error-text.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { WorkerStatus } from "./worker-status.ts";

export interface LagPollOptions {
  consumer: KafkaConsumer;
  stream: KafkaStream;
  topic: string;
  intervalMs: number;
  metrics: WorkerMetrics;
  status: WorkerStatus;
}

export interface LagPoll {
  stop(): void;
}

export function startLagPoll(options: LagPollOptions): LagPoll {
  const { consumer, stream, topic, metrics, status } = options;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = async () => {
    // While the consumer rejoins its group the owned partitions are changing: keep the last figures.
    if (consumer.isActive()) {
      try {
        const progress = await partitionProgress(consumer, stream, topic);
        if (stopped) return;
        metrics.progress(progress);
        const known = new Set(progress.map((p) => p.partition));
        const unknown = status.snapshot().partitions.filter((partition) => !known.has(partition));
        if (unknown.length > 0) status.lagUnknown(`committed offsets of partitions ${unknown.join(",")} not known yet`);
        else status.lagMeasured(progress.reduce((total, p) => total + Math.max(0, Number(p.end - p.committed)), 0));
      } catch (error) {
        if (stopped) return;
        status.lagUnknown(errorText(error));
      }
    }
    if (!stopped) timer = setTimeout(poll, options.intervalMs);
  };
  void poll();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      metrics.progress([]);
    },
  };
}
