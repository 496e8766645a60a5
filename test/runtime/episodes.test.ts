import { expect, test } from "bun:test";
import { Episode } from "../../src/runtime/episodes.ts";
import { capturedLog } from "../support/logs.ts";

function fakeEpisode(summaryMs = 10_000) {
  const clock = { ms: 1_000_000 };
  const logs = capturedLog();
  const episode = new Episode({ log: logs.log, name: "kafka produce", summaryMs, now: () => clock.ms });
  return { clock, logs, episode };
}

test("an outage is one line when it starts, one summary per interval, one line when it ends", () => {
  const { clock, logs, episode } = fakeEpisode();
  episode.succeeded();
  expect(logs.lines).toHaveLength(0);
  // 1,000 failed requests over 25 s: a failure every 25 ms.
  for (let i = 0; i < 1000; i++) {
    episode.failed(`timeout ${i}`);
    clock.ms += 25;
  }
  expect(logs.messages()).toEqual([
    "kafka produce failing: timeout 0",
    "kafka produce still failing after 10 s: 401 failures so far, latest: timeout 400",
    "kafka produce still failing after 20 s: 801 failures so far, latest: timeout 800",
  ]);
  expect(episode.active).toBe(true);
  episode.succeeded();
  episode.succeeded();
  const last = logs.entries("kafka produce recovered after 25 s and 1000 failures");
  expect(last).toHaveLength(1);
  expect(last[0]).toMatchObject({ episode: "kafka produce", failures: 1000, seconds: 25, level: 30 });
  expect(logs.lines).toHaveLength(4);
  expect(episode.active).toBe(false);
});

test("a second outage is a new episode with its own start, count and duration", () => {
  const { clock, logs, episode } = fakeEpisode();
  episode.failed("ECONNREFUSED");
  clock.ms += 1500;
  episode.succeeded();
  episode.failed("NOT_ENOUGH_REPLICAS");
  episode.failed("NOT_ENOUGH_REPLICAS");
  clock.ms += 500;
  episode.succeeded();
  expect(logs.messages()).toEqual([
    "kafka produce failing: ECONNREFUSED",
    "kafka produce recovered after 1.5 s and 1 failures",
    "kafka produce failing: NOT_ENOUGH_REPLICAS",
    "kafka produce recovered after 0.5 s and 2 failures",
  ]);
  expect(logs.entries("kafka produce failing: ECONNREFUSED")[0]).toMatchObject({ level: 40, cause: "ECONNREFUSED" });
});
