// Leaf scenarios: a client on a Starling hub and one on its leaf
// (nats-server when installed), the link known to be up once a probe has
// crossed it; the cluster scenarios run the same between two members.
// Shared by Node.js and the browser page, like scenarios.mjs.

const STEP_TIMEOUT_MS = 5000;

/** The leaf scenarios, and the same between two cluster members, by name. */
export function leafScenarios(nats, env, sc) {
  const cluster = { ...env, leaf_hub_url: env.cluster_a_url, leaf_spoke_url: env.cluster_b_url };
  const scenarios = {};
  for (const [prefix, at] of [["leaf", env], ["cluster", cluster]]) {
    scenarios[`${prefix}_pubsub`] = () => withPair(nats, at, (a, b) => pubsub(a, b, sc));
    scenarios[`${prefix}_request_reply`] = () => withPair(nats, at, (a, b) => requestReply(a, b, sc));
    scenarios[`${prefix}_queue`] = () => withPair(nats, at, (a, b) => queue(a, b, sc));
  }
  return scenarios;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** A subscription whose messages are kept until asked for, so a wait that
 * times out leaves it subscribed (breaking a `for await` would not). */
function inbox(nc, subject, opts = {}) {
  const messages = [];
  let wake = () => {};
  const sub = nc.subscribe(subject, {
    ...opts,
    callback: (err, m) => {
      if (err) return;
      messages.push(m);
      wake();
    },
  });
  return {
    sub,
    messages,
    /** The next message, or null after `ms`. */
    async next(ms = STEP_TIMEOUT_MS) {
      const deadline = Date.now() + ms;
      while (messages.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) return null;
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, left);
        });
      }
      return messages.shift();
    },
  };
}

/** Publishes probes on `subject` from `from` until `to` gets one: the
 * interest of `to` has crossed the link. */
async function crossed(from, to, subject, sc) {
  const probe = inbox(to, subject);
  await to.flush();
  try {
    for (let i = 0; i < 100; i++) {
      from.publish(subject, sc.encode("probe"));
      await from.flush();
      if (await probe.next(100)) return;
    }
    throw new Error(`nothing crossed the leaf link on ${subject}`);
  } finally {
    probe.sub.unsubscribe();
  }
}

async function withPair(nats, env, body) {
  const connect = (url) => nats.connect({ servers: url, timeout: STEP_TIMEOUT_MS, name: "conformance" });
  const hub = await connect(env.leaf_hub_url);
  const spoke = await connect(env.leaf_spoke_url);
  try {
    await crossed(hub, spoke, "leaf.link", nats.StringCodec());
    await body(hub, spoke);
  } finally {
    await hub.close();
    await spoke.close();
  }
}

async function pubsub(hub, spoke, sc) {
  for (const [from, to, side] of [[hub, spoke, "hub to leaf"], [spoke, hub, "leaf to hub"]]) {
    const orders = inbox(to, "leaf.orders.>");
    await crossed(from, to, "leaf.orders.sync", sc);
    from.publish("leaf.orders.new", sc.encode("order"));
    for (;;) {
      const m = await orders.next();
      check(m, `${side}: leaf.orders.new did not arrive`);
      if (m.subject === "leaf.orders.new") {
        check(sc.decode(m.data) === "order", `${side}: payload ${sc.decode(m.data)}`);
        break;
      }
    }
    orders.sub.unsubscribe();
  }
}

async function requestReply(hub, spoke, sc) {
  for (const [requester, responder] of [[hub, spoke], [spoke, hub]]) {
    const service = responder.subscribe("leaf.svc", {
      callback: (err, m) => {
        if (!err && m.reply) m.respond(m.data);
      },
    });
    await crossed(requester, responder, "leaf.svc", sc);
    const answer = await requester.request("leaf.svc", sc.encode("ping"), { timeout: STEP_TIMEOUT_MS });
    check(sc.decode(answer.data) === "ping", `the answer's payload ${sc.decode(answer.data)}`);
    service.unsubscribe();
  }
}

// Members only on the far side: each message once. The fence's interest
// crosses after the group's, and the fence after the messages, so once it
// arrives (on the members' connection) every message has.
async function queue(hub, spoke, sc) {
  const members = [0, 1].map(() => inbox(spoke, "leaf.work", { queue: "workers" }));
  const fence = inbox(spoke, "leaf.fence");
  await crossed(hub, spoke, "leaf.fence", sc);
  for (let i = 0; i < 20; i++) hub.publish("leaf.work", sc.encode(String(i)));
  hub.publish("leaf.fence", sc.encode("end"));
  for (;;) {
    const m = await fence.next();
    check(m, "the fence did not arrive");
    if (sc.decode(m.data) === "end") break;
  }
  const got = members.reduce((sum, member) => sum + member.messages.length, 0);
  check(got === 20, `${got} deliveries of 20 to the far queue group`);
}
