// Browser runner: Debian's Chromium, driven by playwright-core, loads a page
// from 127.0.0.1 that imports the nats.ws bundle and scenarios.mjs. The page
// is served on two ports: the broker's allowed_origins lists the first, so
// the same page from the second origin must be refused. Same line protocol
// as node.mjs: JSON results on stdout, {"control": ...} answered on stdin.
import http from "node:http";
import { readFile } from "node:fs/promises";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

const env = JSON.parse(process.env.CONFORMANCE);
const here = path.dirname(fileURLToPath(import.meta.url));
const files = {
  "/": ["index.html", "text/html"],
  "/scenarios.mjs": ["scenarios.mjs", "text/javascript"],
  "/leaf.mjs": ["leaf.mjs", "text/javascript"],
  "/nats.js": ["node_modules/nats.ws/esm/nats.js", "text/javascript"],
};
const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function serve(port) {
  const server = http.createServer(async (req, res) => {
    const file = files[new URL(req.url, "http://x").pathname];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file[1] });
    res.end(await readFile(path.join(here, file[0])));
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

async function openPage(context, port) {
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`page error: ${err}`));
  page.on("console", (msg) => console.error(`page console: ${msg.text()}`));
  await page.exposeFunction("conformanceReport", (result) => console.log(JSON.stringify(result)));
  await page.exposeFunction("conformanceControl", async (command) => {
    console.log(JSON.stringify({ control: command }));
    const { value, done } = await answers.next();
    if (done || value.trim() !== "ok") throw new Error(`control ${command}: ${value}`);
  });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => window.conformanceReady === true);
  return page;
}

const [allowedPort, refusedPort] = env.page_ports;
const servers = [await serve(allowedPort), await serve(refusedPort)];
const browser = await chromium.launch({
  executablePath: env.chromium,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  // The wss scenario trusts the suite's own CA; Chromium has no flag for an
  // extra root, so certificate errors are ignored for this context only.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const fromAllowed = env.scenarios.filter((name) => name !== "origin_refused");
  const page = await openPage(context, allowedPort);
  await page.evaluate((e) => window.runConformance(e), { ...env, scenarios: fromAllowed });
  if (env.scenarios.includes("origin_refused")) {
    const other = await openPage(context, refusedPort);
    await other.evaluate((e) => window.runConformance(e), { ...env, scenarios: ["origin_refused"] });
  }
} finally {
  await browser.close();
  servers.forEach((s) => s.close());
}
process.exit(0);
