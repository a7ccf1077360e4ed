// The conformance scenarios for the official NATS JavaScript client, shared
// by Node.js (`nats` over TCP, `nats.ws` over websocket) and the browser
// page (the `nats.ws` bundle). The library is passed in, so the same code
// runs in both places; `control` asks cargo xtask conformance to act on the
// broker (restart it) and resolves when it has.

import { leafScenarios } from "./leaf.mjs";

const STEP_TIMEOUT_MS = 5000;

/** Runs every scenario in `env.scenarios`, reporting each as it ends. */
export async function run(nats, env, control, report) {
  const sc = nats.StringCodec();
  const scenarios = {
    connect: () => connectScenario(nats, env),
    pubsub: () => withConnection(nats, env, (nc) => pubsub(nc, sc)),
    wildcards: () => withConnection(nats, env, (nc) => wildcards(nc, sc)),
    queue: () => withConnection(nats, env, (nc) => queue(nc, sc)),
    request_reply: () => withConnection(nats, env, (nc) => requestReply(nc, sc)),
    headers: () => withConnection(nats, env, (nc) => headersScenario(nats, nc, sc)),
    no_responders: () => withConnection(nats, env, (nc) => noResponders(nats, nc)),
    unsub_max: () => withConnection(nats, env, (nc) => unsubMax(nc, sc)),
    max_payload: () => withConnection(nats, env, (nc) => maxPayload(nc, env)),
    compression: () => withConnection(nats, { ...env, url: env.compression_url }, (nc) => compressed(nc, sc)),
    wss: () => withConnection(nats, { ...env, url: env.wss_url }, (nc) => pubsub(nc, sc)),
    auth_connection_types: () => connectionTypes(nats, env),
    accounts: () => accounts(nats, env, sc),
    origin_allowed: () => withConnection(nats, { ...env, url: env.origins_url }, (nc) => pubsub(nc, sc)),
    origin_refused: () => refused(nats, { ...env, url: env.origins_url }, null),
    reconnect: () => reconnect(nats, env, control, sc),
    ...leafScenarios(nats, env, sc),
  };
  for (const name of env.scenarios) {
    const scenario = scenarios[name];
    if (!scenario) {
      report({ scenario: name, ok: false, error: "no such scenario in the JavaScript suite" });
      continue;
    }
    try {
      await withTimeout(scenario(), 20000, name);
      report({ scenario: name, ok: true });
    } catch (err) {
      report({ scenario: name, ok: false, error: String(err && err.message ? err.message : err) });
    }
  }
}

function options(env, extra = {}) {
  return { servers: env.url, timeout: STEP_TIMEOUT_MS, name: "conformance", ...extra };
}

async function withConnection(nats, env, body) {
  const nc = await nats.connect(options(env));
  try {
    await body(nc);
  } finally {
    await nc.close();
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Collects `count` messages from a subscription, or fails after a timeout. */
function collect(sub, count, what) {
  const got = [];
  const done = (async () => {
    for await (const m of sub) {
      got.push(m);
      if (got.length === count) break;
    }
    return got;
  })();
  return withTimeout(done, STEP_TIMEOUT_MS, what);
}

async function connectScenario(nats, env) {
  const nc = await nats.connect(options(env));
  try {
    const info = nc.info;
    check(info && typeof info.server_id === "string" && info.server_id.length > 0, "INFO has no server_id");
    check(info.max_payload === env.max_payload, `INFO max_payload ${info.max_payload}, expected ${env.max_payload}`);
    check(info.headers === true, "INFO does not announce headers");
    check(info.proto === 1, `INFO proto ${info.proto}`);
    await nc.flush();
  } finally {
    await nc.close();
  }
}

async function pubsub(nc, sc) {
  const sub = nc.subscribe("conformance.pubsub");
  const got = collect(sub, 3, "pubsub");
  await nc.flush();
  for (const text of ["one", "two", "three"]) nc.publish("conformance.pubsub", sc.encode(text));
  const msgs = await got;
  const texts = msgs.map((m) => sc.decode(m.data));
  check(texts.join(",") === "one,two,three", `received ${texts.join(",")}`);
}

async function wildcards(nc, sc) {
  const star = nc.subscribe("conformance.wild.*");
  const tail = nc.subscribe("conformance.>");
  const gotStar = collect(star, 1, "token wildcard");
  const gotTail = collect(tail, 2, "tail wildcard");
  await nc.flush();
  nc.publish("conformance.wild.a.b", sc.encode("deep"));
  nc.publish("conformance.wild.a", sc.encode("shallow"));
  const [s, t] = await Promise.all([gotStar, gotTail]);
  check(s[0].subject === "conformance.wild.a", `* matched ${s[0].subject}`);
  check(t.map((m) => m.subject).join(",") === "conformance.wild.a.b,conformance.wild.a", "> did not match both");
}

async function queue(nc, sc) {
  const total = 20;
  const counts = [0, 0];
  const seen = new Set();
  let delivered = 0;
  let resolveAll;
  const all = new Promise((resolve) => (resolveAll = resolve));
  [0, 1].forEach((i) => {
    nc.subscribe("conformance.queue", {
      queue: "workers",
      callback: (err, m) => {
        if (err) return;
        counts[i] += 1;
        seen.add(sc.decode(m.data));
        delivered += 1;
        if (delivered === total) resolveAll();
      },
    });
  });
  await nc.flush();
  for (let i = 0; i < total; i++) nc.publish("conformance.queue", sc.encode(String(i)));
  await withTimeout(all, STEP_TIMEOUT_MS, "queue group");
  await nc.flush();
  check(delivered === total && seen.size === total, `delivered ${delivered}, distinct ${seen.size}`);
}

async function requestReply(nc, sc) {
  const sub = nc.subscribe("conformance.service", {
    callback: (err, m) => {
      if (!err) m.respond(sc.encode(`re: ${sc.decode(m.data)}`));
    },
  });
  await nc.flush();
  const reply = await nc.request("conformance.service", sc.encode("ping"), { timeout: STEP_TIMEOUT_MS });
  check(sc.decode(reply.data) === "re: ping", `reply ${sc.decode(reply.data)}`);
  sub.unsubscribe();
}

async function headersScenario(nats, nc, sc) {
  const sub = nc.subscribe("conformance.headers");
  const got = collect(sub, 1, "headers");
  await nc.flush();
  const h = nats.headers();
  h.set("X-Conformance", "yes");
  h.append("X-Multi", "a");
  h.append("X-Multi", "b");
  nc.publish("conformance.headers", sc.encode("with headers"), { headers: h });
  const [m] = await got;
  check(m.headers && m.headers.get("X-Conformance") === "yes", "header X-Conformance lost");
  check(m.headers.values("X-Multi").join(",") === "a,b", `X-Multi ${m.headers.values("X-Multi")}`);
  check(sc.decode(m.data) === "with headers", "payload changed");
}

async function noResponders(nats, nc) {
  try {
    await nc.request("conformance.nobody", nats.Empty, { timeout: STEP_TIMEOUT_MS });
  } catch (err) {
    check(err.code === nats.ErrorCode.NoResponders, `error ${err.code}: ${err.message}`);
    return;
  }
  throw new Error("a request with no responders got a reply");
}

async function unsubMax(nc, sc) {
  const sub = nc.subscribe("conformance.max", { max: 3 });
  const got = (async () => {
    const seen = [];
    for await (const m of sub) seen.push(sc.decode(m.data));
    return seen;
  })();
  await nc.flush();
  for (let i = 0; i < 5; i++) nc.publish("conformance.max", sc.encode(String(i)));
  await nc.flush();
  const seen = await withTimeout(got, STEP_TIMEOUT_MS, "unsubscribe after 3");
  check(seen.join(",") === "0,1,2", `received ${seen.join(",")}`);
}

async function maxPayload(nc, env) {
  check(nc.info.max_payload === env.max_payload, `INFO max_payload ${nc.info.max_payload}`);
  const sub = nc.subscribe("conformance.big");
  const got = collect(sub, 1, "largest payload");
  await nc.flush();
  const payload = new Uint8Array(env.max_payload).fill(0x61);
  nc.publish("conformance.big", payload);
  const [m] = await got;
  check(m.data.length === env.max_payload, `received ${m.data.length} bytes`);
  try {
    nc.publish("conformance.big", new Uint8Array(env.max_payload + 1));
  } catch (err) {
    check(/payload/i.test(err.message) || err.code === "MAX_PAYLOAD_EXCEEDED", `error ${err.message}`);
    return;
  }
  throw new Error("a payload over max_payload was accepted");
}

async function compressed(nc, sc) {
  const sub = nc.subscribe("conformance.compressed");
  const got = collect(sub, 2, "compressed messages");
  await nc.flush();
  const text = "compressible ".repeat(5000);
  nc.publish("conformance.compressed", sc.encode(text));
  const random = new Uint8Array(4096);
  for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) % 251;
  nc.publish("conformance.compressed", random);
  const [a, b] = await got;
  check(sc.decode(a.data) === text, "compressible payload changed");
  check(b.data.length === random.length && b.data.every((v, i) => v === random[i]), "binary payload changed");
}

async function refused(nats, env, extra) {
  let nc;
  try {
    nc = await nats.connect(options(env, { maxReconnectAttempts: 0, reconnect: false, ...(extra || {}) }));
  } catch (err) {
    return err;
  }
  await nc.close();
  throw new Error(`connected to ${env.url} where a refusal was expected`);
}

async function connectionTypes(nats, env) {
  const users = { ...env, url: env.users_url };
  const mine = env.transport === "tcp" ? "tcp-user" : "ws-user";
  const other = env.transport === "tcp" ? "ws-user" : "tcp-user";
  const nc = await nats.connect(options(users, { user: mine, pass: "secret" }));
  await nc.flush();
  await nc.close();
  const err = await refused(nats, users, { user: other, pass: "secret" });
  check(/authorization/i.test(String(err.message)) || err.code === "AUTHORIZATION_VIOLATION", `refusal said ${err.message}`);
}

// ORDERS answers orders.lookup and publishes orders.events.new; SHOP sees
// them as lookup and shop.orders.events.new.
async function accounts(nats, env, sc) {
  const at = { ...env, url: env.accounts_url };
  const orders = await nats.connect(options(at, { user: "orders", pass: "secret" }));
  const shop = await nats.connect(options(at, { user: "shop", pass: "secret" }));
  try {
    orders.subscribe("orders.lookup", {
      callback: (err, m) => {
        if (err) return;
        const account = (m.headers && m.headers.get("Nats-Request-Info")) || "";
        m.respond(sc.encode(`found:${sc.decode(m.data)} ${account}`));
      },
    });
    const events = shop.subscribe("shop.orders.events.>");
    const got = collect(events, 1, "imported stream");
    await orders.flush();
    await shop.flush();
    const reply = await shop.request("lookup", sc.encode("id-1"), { timeout: STEP_TIMEOUT_MS });
    check(sc.decode(reply.data) === 'found:id-1 {"acc":"SHOP"}', `reply ${sc.decode(reply.data)}`);
    orders.publish("orders.events.new", sc.encode("created"));
    const [event] = await got;
    check(event.subject === "shop.orders.events.new", `imported as ${event.subject}`);
  } finally {
    await orders.close();
    await shop.close();
  }
}

async function reconnect(nats, env, control, sc) {
  const nc = await nats.connect(options(env, { maxReconnectAttempts: -1, reconnectTimeWait: 100 }));
  try {
    const sub = nc.subscribe("conformance.reconnect");
    await nc.flush();
    let reconnected;
    const back = new Promise((resolve) => (reconnected = resolve));
    (async () => {
      for await (const s of nc.status()) if (s.type === "reconnect") reconnected();
    })();
    await control("restart");
    await withTimeout(back, 10000, "reconnect after restart");
    const got = collect(sub, 1, "message after reconnect");
    nc.publish("conformance.reconnect", sc.encode("back"));
    const [m] = await got;
    check(sc.decode(m.data) === "back", "payload changed");
  } finally {
    await nc.close();
  }
}
