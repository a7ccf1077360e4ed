// Node.js runner: `nats` over TCP or `nats.ws` over websocket (with the `ws`
// package as the WebSocket), scenarios from scenarios.mjs. cargo xtask
// conformance passes the settings as JSON in $CONFORMANCE and reads one JSON
// line per scenario from stdout; a {"control": ...} line asks it to act on
// the broker, and it answers with one line on stdin.
import readline from "node:readline";
import { WebSocket } from "ws";
import { run } from "./scenarios.mjs";

const env = JSON.parse(process.env.CONFORMANCE);
const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function control(command) {
  console.log(JSON.stringify({ control: command }));
  const { value, done } = await answers.next();
  if (done || value.trim() !== "ok") throw new Error(`control ${command}: ${value}`);
}

let nats;
if (env.transport === "tcp") {
  nats = await import("nats");
} else {
  globalThis.WebSocket = WebSocket;
  nats = await import("nats.ws");
}
await run(nats, env, control, (result) => console.log(JSON.stringify(result)));
process.exit(0);
