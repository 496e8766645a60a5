// A value that must never be printed (a Kafka password, a TLS private key):
// every way a value turns into text (a template string, JSON, console.log,
// an error message built from it) gives "***"; only reveal() gives the value,
// and only the Kafka client's credential provider calls it.
import { inspect } from "node:util";

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return "***";
  }

  toJSON(): string {
    return "***";
  }

  [inspect.custom](): string {
    return "Secret(***)";
  }
}
