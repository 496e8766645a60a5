// The API's produce batcher, on its own: `send` here is a function the test
// answers by hand, so the order of requests and what each carries are exact.
// (That the real producer reaches the real broker is tested in test/api.)
import { expect, test } from "bun:test";
import {
  AcceptTimeoutError,
  OverloadedError,
  ProduceBatcher,
  type ProduceBatcherOptions,
} from "../../src/api/produce-batcher.ts";
import { type OutgoingMessage, recordBytesMax } from "../../src/kafka/client.ts";

interface Sent {
  messages: OutgoingMessage[];
  answer(error?: Error): void;
}

function harness(options: Partial<Omit<ProduceBatcherOptions, "send">> = {}) {
  const sent: Sent[] = [];
  const batcher = new ProduceBatcher({
    lingerMs: 20,
    batchMessagesMax: 100,
    requestBytesMax: 1_000_000,
    inFlightMax: 1,
    queuedMessagesMax: 1000,
    // Longer than the test run: submits some tests leave unanswered must not
    // fail (unhandled) during a later test. The timeout tests set their own.
    acceptTimeoutMs: 3_600_000,
    ...options,
    send: (messages) =>
      new Promise<void>((resolve, reject) => {
        sent.push({ messages, answer: (error) => (error ? reject(error) : resolve()) });
      }),
  });
  return { batcher, sent };
}

const message = (n: number): OutgoingMessage => ({
  topic: "t",
  key: Buffer.from(`k${n}`),
  value: Buffer.from(`v${n}`),
});
const values = (s: Sent | undefined) => s?.messages.map((m) => String(m.value));
const settled = (promise: Promise<unknown>) =>
  promise.then(
    () => "resolved",
    (error: Error) => `rejected: ${error.message}`,
  );

test("submits within the linger share one request, in submit order, and resolve on its answer", async () => {
  const { batcher, sent } = harness();
  const a = batcher.submit([message(1)]);
  const b = batcher.submit([message(2), message(3)]);
  expect(sent.length).toBe(0);
  await Bun.sleep(40);
  expect(sent.length).toBe(1);
  expect(values(sent[0])).toEqual(["v1", "v2", "v3"]);
  sent[0]?.answer();
  expect(await Promise.all([settled(a), settled(b)])).toEqual(["resolved", "resolved"]);
  expect(batcher.requestsSent).toBe(1);
});

test("a request never passes batchMessagesMax, a submit is never split, and one over the cap goes alone", async () => {
  const { batcher, sent } = harness({ batchMessagesMax: 3, inFlightMax: 5, lingerMs: 1000 });
  batcher.submit([message(1), message(2)]);
  batcher.submit([message(3), message(4)]); // 4 > 3: the first request leaves with the first submit only
  batcher.submit([message(5), message(6), message(7), message(8)]); // over the cap on its own
  await Bun.sleep(10);
  expect(sent.map(values)).toEqual([
    ["v1", "v2"],
    ["v3", "v4"],
    ["v5", "v6", "v7", "v8"],
  ]);
});

test("at most inFlightMax requests are outstanding", async () => {
  const { batcher, sent } = harness({ batchMessagesMax: 1, inFlightMax: 2, lingerMs: 0 });
  for (let i = 1; i <= 5; i++) batcher.submit([message(i)]);
  await Bun.sleep(5);
  expect(sent.length).toBe(2);
  sent[0]?.answer();
  await Bun.sleep(5);
  expect(sent.length).toBe(3);
  expect(values(sent[2])).toEqual(["v3"]);
});

test("past queuedMessagesMax a submit is refused at once and nothing of it is queued", async () => {
  const { batcher, sent } = harness({ queuedMessagesMax: 3, lingerMs: 1000 });
  batcher.submit([message(1), message(2)]);
  const refused = batcher.submit([message(3), message(4)]);
  await expect(refused).rejects.toBeInstanceOf(OverloadedError);
  expect(batcher.queuedMessages).toBe(2);
  expect(sent.length).toBe(0);
});

test("a submit that waited longer than the linger behind a request in flight goes as soon as that request is answered", async () => {
  const { batcher, sent } = harness({ lingerMs: 50 });
  batcher.submit([message(1)]);
  await Bun.sleep(70); // the first request leaves at 50 ms and stays unanswered
  expect(sent.length).toBe(1);
  batcher.submit([message(2)]);
  await Bun.sleep(70); // message 2 has now waited 70 ms, more than the linger
  expect(sent.length).toBe(1);
  sent[0]?.answer();
  await new Promise((resolve) => setImmediate(resolve));
  // Sent without a second linger: before, it waited another 50 ms here.
  expect(sent.length).toBe(2);
  expect(values(sent[1])).toEqual(["v2"]);
});

test("a failed request rejects exactly its own submits; the next request still goes", async () => {
  const { batcher, sent } = harness({ lingerMs: 0 });
  const a = batcher.submit([message(1)]);
  const b = batcher.submit([message(2)]);
  sent[0]?.answer(new Error("broker gone"));
  expect(await settled(a)).toBe("rejected: broker gone");
  await Bun.sleep(5);
  expect(values(sent[1])).toEqual(["v2"]);
  sent[1]?.answer();
  expect(await settled(b)).toBe("resolved");
});

test("close() sends what is queued and waits until it is answered", async () => {
  const { batcher, sent } = harness({ lingerMs: 1000 });
  const a = batcher.submit([message(1)]);
  const closing = batcher.close();
  expect(sent.length).toBe(1);
  setTimeout(() => sent[0]?.answer(), 20);
  await closing;
  expect(await settled(a)).toBe("resolved");
  await expect(batcher.submit([message(2)])).rejects.toThrow("closing");
});

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test("once as many submits wait as the last answered request carried, the next request leaves without lingering", async () => {
  const { batcher, sent } = harness({ lingerMs: 50 });
  for (let i = 1; i <= 3; i++) batcher.submit([message(i)]);
  await Bun.sleep(70); // the first request has no answer to learn from: it lingers
  expect(sent.map(values)).toEqual([["v1", "v2", "v3"]]);
  sent[0]?.answer();
  await nextTurn();
  // Three callers were answered, so three are expected back.
  batcher.submit([message(4)]);
  batcher.submit([message(5)]);
  await nextTurn();
  expect(sent.length).toBe(1);
  batcher.submit([message(6)]);
  // Before, this request left only when the linger ended, 50 ms later.
  expect(sent.map(values)).toEqual([
    ["v1", "v2", "v3"],
    ["v4", "v5", "v6"],
  ]);
});

test("the expected company counts the submits that queued during the round trip", async () => {
  const { batcher, sent } = harness({ lingerMs: 50 });
  batcher.submit([message(1)]);
  await Bun.sleep(70);
  batcher.submit([message(2)]); // both arrive while the first request is in flight
  batcher.submit([message(3)]);
  sent[0]?.answer();
  await nextTurn();
  expect(sent.length).toBe(1); // 1 answered + 2 waiting = 3 expected; 2 are here
  batcher.submit([message(4)]);
  expect(values(sent[1])).toEqual(["v2", "v3", "v4"]);
});

test("when fewer come than expected, the linger still sends them, and the expectation drops to what came", async () => {
  const { batcher, sent } = harness({ lingerMs: 30 });
  for (let i = 1; i <= 3; i++) batcher.submit([message(i)]);
  await Bun.sleep(45);
  sent[0]?.answer();
  await nextTurn();
  batcher.submit([message(4)]);
  batcher.submit([message(5)]);
  await Bun.sleep(45); // 3 expected, 2 came: they go when the linger ends
  expect(sent.map(values)).toEqual([
    ["v1", "v2", "v3"],
    ["v4", "v5"],
  ]);
  sent[1]?.answer();
  await nextTurn();
  batcher.submit([message(6)]);
  expect(sent.length).toBe(2);
  batcher.submit([message(7)]); // 2 expected now
  expect(values(sent[2])).toEqual(["v6", "v7"]);
});

test("a submit whose request Kafka does not answer in acceptTimeoutMs fails as sent; the late answer changes nothing", async () => {
  const { batcher, sent } = harness({ lingerMs: 1, acceptTimeoutMs: 80 });
  const a = settled(batcher.submit([message(1)]));
  await Bun.sleep(20);
  expect(sent.length).toBe(1);
  const failure = await batcher.submit([message(2)]).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(AcceptTimeoutError);
  expect(await a).toBe("rejected: Kafka did not acknowledge within 80 ms");
  sent[0]?.answer();
  expect(await a).toBe("rejected: Kafka did not acknowledge within 80 ms");
});

test("a submit still queued at its deadline is withdrawn: it fails as unsent and never reaches Kafka", async () => {
  const { batcher, sent } = harness({ lingerMs: 1, acceptTimeoutMs: 80 });
  const inFlight = batcher.submit([message(1)]).catch((error: AcceptTimeoutError) => error);
  await Bun.sleep(10);
  const queued = batcher.submit([message(2), message(3)]).catch((error: AcceptTimeoutError) => error);
  expect(batcher.queuedMessages).toBe(2);
  const [first, second] = await Promise.all([inFlight, queued]);
  expect([first?.sent, second?.sent]).toEqual([true, false]);
  expect(second?.message).toBe("no produce request could take it within 80 ms; it was withdrawn unsent");
  expect(batcher.queuedMessages).toBe(0);
  sent[0]?.answer();
  await Bun.sleep(20);
  expect(sent.map(values)).toEqual([["v1"]]);
});

test("each submit has its own deadline: one submitted later fails later, one answered in time resolves", async () => {
  const { batcher, sent } = harness({ lingerMs: 1, inFlightMax: 5, acceptTimeoutMs: 100 });
  const startedMs = performance.now();
  const failedAfterMs = (promise: Promise<void>) =>
    promise.then(
      () => "resolved",
      () => Math.round(performance.now() - startedMs),
    );
  const early = failedAfterMs(batcher.submit([message(1)]));
  await Bun.sleep(60);
  const late = failedAfterMs(batcher.submit([message(2)]));
  await Bun.sleep(10);
  const answered = failedAfterMs(batcher.submit([message(3)]));
  await Bun.sleep(10);
  expect(sent.map(values)).toEqual([["v1"], ["v2"], ["v3"]]);
  sent[2]?.answer();
  expect(await answered).toBe("resolved");
  const earlyMs = (await early) as number;
  const lateMs = (await late) as number;
  expect(earlyMs).toBeGreaterThanOrEqual(99);
  expect(earlyMs).toBeLessThan(150);
  expect(lateMs).toBeGreaterThanOrEqual(159);
});

/** A message of about `bytes` record bytes, named by its key. */
const sized = (n: number, bytes: number): OutgoingMessage => ({
  topic: "t",
  key: Buffer.from(`k${n}`),
  value: Buffer.alloc(bytes - recordBytesMax({ topic: "t", key: Buffer.from(`k${n}`), value: Buffer.alloc(0) })),
});
const keys = (s: Sent | undefined) => s?.messages.map((m) => String(m.key));
const requestBytes = (s: Sent | undefined) => (s?.messages ?? []).reduce((sum, m) => sum + recordBytesMax(m), 0);

test("a submit whose records outgrow requestBytesMax is split into requests that fit, in order; it resolves once all are acknowledged", async () => {
  const { batcher, sent } = harness({ requestBytesMax: 1000, lingerMs: 0 });
  let outcome = "waiting";
  const submitted = settled(batcher.submit(Array.from({ length: 10 }, (_, i) => sized(i, 240)))).then((s) => {
    outcome = s;
  });
  for (const expected of [
    ["k0", "k1", "k2", "k3"],
    ["k4", "k5", "k6", "k7"],
    ["k8", "k9"],
  ]) {
    await nextTurn();
    expect(keys(sent.at(-1))).toEqual(expected);
    expect(requestBytes(sent.at(-1))).toBeLessThanOrEqual(1000);
    expect(outcome).toBe("waiting");
    sent.at(-1)?.answer();
  }
  await submitted;
  expect(outcome).toBe("resolved");
  expect(batcher.requestsSent).toBe(3);
});

test("submits share a request only while it stays within requestBytesMax", async () => {
  const { batcher, sent } = harness({ requestBytesMax: 1000, lingerMs: 1000 });
  batcher.submit([sized(1, 240), sized(2, 240)]);
  batcher.submit([sized(3, 240), sized(4, 240)]);
  expect(sent.length).toBe(0); // 960 bytes wait: lingering for more
  batcher.submit([sized(5, 240)]); // past the limit: the first two leave together
  expect(sent.map(keys)).toEqual([["k1", "k2", "k3", "k4"]]);
  sent[0]?.answer();
  await Bun.sleep(5);
  expect(batcher.queuedMessages).toBe(1);
});

test("a split submit fails with its first failed part; its parts still queued are withdrawn and never sent", async () => {
  const { batcher, sent } = harness({ requestBytesMax: 1000, lingerMs: 0 });
  const submitted = settled(batcher.submit(Array.from({ length: 10 }, (_, i) => sized(i, 240))));
  await nextTurn();
  sent[0]?.answer(new Error("broker gone"));
  expect(await submitted).toBe("rejected: broker gone");
  expect(batcher.queuedMessages).toBe(0);
  batcher.submit([sized(99, 240)]);
  await nextTurn();
  expect(sent.map(keys)).toEqual([["k0", "k1", "k2", "k3"], ["k99"]]);
});

test("a split submit timing out with a part in flight fails as sent (parts may be written); the rest is withdrawn", async () => {
  const { batcher, sent } = harness({ requestBytesMax: 1000, lingerMs: 0, acceptTimeoutMs: 80 });
  const failure = (await batcher
    .submit(Array.from({ length: 10 }, (_, i) => sized(i, 240)))
    .catch((error: unknown) => error)) as AcceptTimeoutError;
  expect(failure).toBeInstanceOf(AcceptTimeoutError);
  expect(failure.sent).toBe(true);
  expect(batcher.queuedMessages).toBe(0);
  sent[0]?.answer();
  await Bun.sleep(10);
  expect(sent.length).toBe(1);
});
