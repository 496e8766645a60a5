// What a run made (processes, database, topics, the broker), undone in reverse
// order whether the run succeeds, fails or is interrupted, and the interruption
// itself: a signal sets a flag that the long phases check between steps.
import type { Child } from "./children.ts";

const cleanups: Array<{ what: string; step: () => Promise<unknown> }> = [];
const children: Child[] = [];
let cleaning: Promise<void> | undefined;
let interrupted = false;

/** Registers a step for cleanUp(); `what` completes "could not ..." if it fails. */
export function onCleanup(what: string, step: () => Promise<unknown>): void {
  cleanups.push({ what, step });
}

/** Runs the registered steps, last first, once: later calls share the first one's promise. */
export function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (let next = cleanups.pop(); next !== undefined; next = cleanups.pop()) {
      try {
        await next.step();
      } catch (error) {
        console.error(`bench: could not ${next.what}: ${(error as Error).message}`);
      }
    }
  })();
  return cleaning;
}

/** Stops the child on cleanUp(), and kills it on exit should that not have run. */
export function track(child: Child): Child {
  children.push(child);
  onCleanup(`stop ${child.name}`, () => child.stop());
  return child;
}

/** Last resort on process exit: no child outlives the benchmark. */
export function killChildren(): void {
  for (const child of children) if (!child.exited) child.process.kill("SIGKILL");
}

export class InterruptedError extends Error {}

export function interrupt(): void {
  interrupted = true;
}

export function wasInterrupted(): boolean {
  return interrupted;
}

export function checkInterrupted(): void {
  if (interrupted) throw new InterruptedError("interrupted");
}
