// @elysiajs/openapi, loaded so that TypeBox's string formats stay Elysia's.
// Its bundle (@sinclair/typemap) registers uuid, email, date, time and other
// formats again in TypeBox's one FormatRegistry, as zod checks that build a
// new zod schema on every call; every 202 checks a uuid in its response
// schema, so that alone cost each POST more than the rest of its hooks. The
// checks registered before it loads are put back once it has loaded.
import { FormatRegistry } from "@sinclair/typebox";
// Elysia's formats, registered when this module is evaluated (a side effect of its import).
import "elysia/type-system/format";

const formats = new Map(FormatRegistry.Entries());
const { openapi } = await import("@elysiajs/openapi");
for (const [name, check] of formats) FormatRegistry.Set(name, check);

export { openapi };
