"""The conformance scenarios for nats-py, over TCP or websocket (aiohttp).

cargo xtask conformance passes the settings as JSON in $CONFORMANCE and reads
one JSON line per scenario from stdout; a {"control": ...} line asks it to act
on the broker, and it answers with one line on stdin.
"""

import asyncio
import json
import os
import ssl
import sys

import nats
from nats import errors

STEP_TIMEOUT = 5.0
ENV = json.loads(os.environ["CONFORMANCE"])


def check(condition, message):
    if not condition:
        raise AssertionError(message)


async def connect(url=None, **extra):
    options = dict(
        servers=[url or ENV["url"]],
        name="conformance",
        connect_timeout=STEP_TIMEOUT,
        allow_reconnect=False,
        max_reconnect_attempts=0,
    )
    if (url or "").startswith("wss://"):
        options["tls"] = ssl.create_default_context(cafile=ENV["ca_file"])
    options.update(extra)
    return await nats.connect(**options)


async def control(command):
    print(json.dumps({"control": command}), flush=True)
    answer = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    check(answer.strip() == "ok", f"control {command}: {answer!r}")


async def collect(sub, count):
    return [await sub.next_msg(timeout=STEP_TIMEOUT) for _ in range(count)]


async def scenario_connect(nc):
    info = nc._server_info  # nats-py keeps the INFO it received here
    check(info.get("server_id"), "INFO has no server_id")
    check(nc.max_payload == ENV["max_payload"], f"max_payload {nc.max_payload}")
    check(info.get("headers") is True, "INFO does not announce headers")
    check(info.get("proto") == 1, f"proto {info.get('proto')}")
    await nc.flush(timeout=STEP_TIMEOUT)


async def scenario_pubsub(nc):
    sub = await nc.subscribe("conformance.pubsub")
    await nc.flush()
    for text in (b"one", b"two", b"three"):
        await nc.publish("conformance.pubsub", text)
    got = [m.data for m in await collect(sub, 3)]
    check(got == [b"one", b"two", b"three"], f"received {got}")


async def scenario_wildcards(nc):
    star = await nc.subscribe("conformance.wild.*")
    tail = await nc.subscribe("conformance.>")
    await nc.flush()
    await nc.publish("conformance.wild.a.b", b"deep")
    await nc.publish("conformance.wild.a", b"shallow")
    (s,) = await collect(star, 1)
    t = await collect(tail, 2)
    check(s.subject == "conformance.wild.a", f"* matched {s.subject}")
    check([m.subject for m in t] == ["conformance.wild.a.b", "conformance.wild.a"], "> did not match both")


async def scenario_queue(nc):
    total = 20
    seen = []
    done = asyncio.Event()

    async def worker(msg):
        seen.append(msg.data)
        if len(seen) == total:
            done.set()

    for _ in range(2):
        await nc.subscribe("conformance.queue", queue="workers", cb=worker)
    await nc.flush()
    for i in range(total):
        await nc.publish("conformance.queue", str(i).encode())
    await asyncio.wait_for(done.wait(), STEP_TIMEOUT)
    await nc.flush()
    check(len(seen) == total and len(set(seen)) == total, f"delivered {len(seen)}, distinct {len(set(seen))}")


async def scenario_request_reply(nc):
    async def service(msg):
        await msg.respond(b"re: " + msg.data)

    await nc.subscribe("conformance.service", cb=service)
    await nc.flush()
    reply = await nc.request("conformance.service", b"ping", timeout=STEP_TIMEOUT)
    check(reply.data == b"re: ping", f"reply {reply.data!r}")


async def scenario_headers(nc):
    sub = await nc.subscribe("conformance.headers")
    await nc.flush()
    await nc.publish("conformance.headers", b"with headers", headers={"X-Conformance": "yes"})
    (m,) = await collect(sub, 1)
    check(m.headers and m.headers.get("X-Conformance") == "yes", f"headers {m.headers}")
    check(m.data == b"with headers", "payload changed")


async def scenario_no_responders(nc):
    try:
        await nc.request("conformance.nobody", b"", timeout=STEP_TIMEOUT)
    except errors.NoRespondersError:
        return
    raise AssertionError("a request with no responders got a reply")


async def scenario_unsub_max(nc):
    sub = await nc.subscribe("conformance.max", max_msgs=3)
    await nc.flush()
    for i in range(5):
        await nc.publish("conformance.max", str(i).encode())
    got = [m.data for m in await collect(sub, 3)]
    check(got == [b"0", b"1", b"2"], f"received {got}")
    try:
        extra = await sub.next_msg(timeout=0.5)
    except (errors.TimeoutError, errors.BadSubscriptionError):
        return
    raise AssertionError(f"a fourth message arrived: {extra.data!r}")


async def scenario_max_payload(nc):
    limit = ENV["max_payload"]
    check(nc.max_payload == limit, f"max_payload {nc.max_payload}")
    sub = await nc.subscribe("conformance.big")
    await nc.flush()
    await nc.publish("conformance.big", b"a" * limit)
    (m,) = await collect(sub, 1)
    check(len(m.data) == limit, f"received {len(m.data)} bytes")
    try:
        await nc.publish("conformance.big", b"a" * (limit + 1))
    except errors.MaxPayloadError:
        return
    raise AssertionError("a payload over max_payload was accepted")


async def scenario_compression(_nc):
    nc = await connect(ENV["compression_url"])
    try:
        sub = await nc.subscribe("conformance.compressed")
        await nc.flush()
        text = b"compressible " * 5000
        binary = bytes((i * 7919 + 13) % 251 for i in range(4096))
        await nc.publish("conformance.compressed", text)
        await nc.publish("conformance.compressed", binary)
        a, b = await collect(sub, 2)
        check(a.data == text and b.data == binary, "payload changed")
    finally:
        await nc.close()


async def scenario_wss(_nc):
    nc = await connect(ENV["wss_url"])
    try:
        await scenario_pubsub(nc)
    finally:
        await nc.close()


async def refused(url, **extra):
    failures = []

    async def on_error(err):
        failures.append(err)

    try:
        nc = await connect(url, error_cb=on_error, **extra)
    except Exception as err:  # nats-py raises what the server said, or gives up
        return " ".join(str(e) for e in [err, *failures])
    await nc.close()
    raise AssertionError(f"connected to {url} where a refusal was expected")


async def scenario_auth_connection_types(_nc):
    mine, other = ("tcp-user", "ws-user") if ENV["transport"] == "tcp" else ("ws-user", "tcp-user")
    nc = await connect(ENV["users_url"], user=mine, password="secret")
    await nc.flush()
    await nc.close()
    said = await refused(ENV["users_url"], user=other, password="secret")
    check("authorization" in said.lower(), f"refusal said {said!r}")


async def scenario_accounts(_nc):
    """ORDERS answers orders.lookup and publishes orders.events.new; SHOP
    sees them as lookup and shop.orders.events.new."""
    orders = await connect(ENV["accounts_url"], user="orders", password="secret")
    shop = await connect(ENV["accounts_url"], user="shop", password="secret")
    try:
        async def lookup(msg):
            account = (msg.headers or {}).get("Nats-Request-Info", "")
            await msg.respond(b"found:" + msg.data + b" " + account.encode())

        await orders.subscribe("orders.lookup", cb=lookup)
        events = await shop.subscribe("shop.orders.events.>")
        await orders.flush()
        await shop.flush()
        reply = await shop.request("lookup", b"id-1", timeout=STEP_TIMEOUT)
        check(reply.data == b'found:id-1 {"acc":"SHOP"}', f"reply {reply.data!r}")
        await orders.publish("orders.events.new", b"created")
        (event,) = await collect(events, 1)
        check(event.subject == "shop.orders.events.new", f"imported as {event.subject}")
    finally:
        await orders.close()
        await shop.close()


async def scenario_reconnect(_nc):
    reconnected = asyncio.Event()

    async def on_reconnect():
        reconnected.set()

    nc = await connect(
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        reconnected_cb=on_reconnect,
    )
    try:
        sub = await nc.subscribe("conformance.reconnect")
        await nc.flush()
        await control("restart")
        await asyncio.wait_for(reconnected.wait(), 10)
        await nc.publish("conformance.reconnect", b"back")
        (m,) = await collect(sub, 1)
        check(m.data == b"back", "payload changed")
    finally:
        await nc.close()


async def crossed(src, dst, subject):
    """Publishes probes on `subject` from `src` until `dst` gets one: the
    interest of `dst` has crossed the leaf link between them."""
    sub = await dst.subscribe(subject)
    await dst.flush(timeout=STEP_TIMEOUT)
    try:
        for _ in range(100):
            await src.publish(subject, b"probe")
            await src.flush(timeout=STEP_TIMEOUT)
            try:
                await sub.next_msg(timeout=0.1)
                return
            except errors.TimeoutError:
                pass
        raise AssertionError(f"nothing crossed the leaf link on {subject}")
    finally:
        await sub.unsubscribe()


async def leaf_pair(cluster=False):
    """Clients on the hub and on its leaf (or on two cluster members), the
    link known to be up."""
    a, b = ("cluster_a_url", "cluster_b_url") if cluster else ("leaf_hub_url", "leaf_spoke_url")
    hub = await connect(ENV[a])
    spoke = await connect(ENV[b])
    await crossed(hub, spoke, "leaf.link")
    return hub, spoke


async def scenario_leaf_pubsub(_nc, cluster=False):
    hub, spoke = await leaf_pair(cluster)
    try:
        for src, dst, side in [(hub, spoke, "hub to leaf"), (spoke, hub, "leaf to hub")]:
            sub = await dst.subscribe("leaf.orders.>")
            await crossed(src, dst, "leaf.orders.sync")
            await src.publish("leaf.orders.new", b"order")
            while True:
                m = await sub.next_msg(timeout=STEP_TIMEOUT)
                if m.subject == "leaf.orders.new":
                    check(m.data == b"order", f"{side}: payload {m.data!r}")
                    break
            await sub.unsubscribe()
    finally:
        await hub.close()
        await spoke.close()


async def scenario_leaf_request_reply(_nc, cluster=False):
    hub, spoke = await leaf_pair(cluster)
    try:
        for requester, responder in [(hub, spoke), (spoke, hub)]:
            async def answer(msg, responder=responder):
                if msg.reply:
                    await responder.publish(msg.reply, msg.data)

            service = await responder.subscribe("leaf.svc", cb=answer)
            await crossed(requester, responder, "leaf.svc")
            reply = await requester.request("leaf.svc", b"ping", timeout=STEP_TIMEOUT)
            check(reply.data == b"ping", f"the answer's payload {reply.data!r}")
            await service.unsubscribe()
    finally:
        await hub.close()
        await spoke.close()


async def scenario_leaf_queue(_nc, cluster=False):
    """Members only on the far side: each message once. The fence's
    interest crosses after the group's, and the fence after the messages,
    so once it arrives (on the members' connection) every message has."""
    hub, spoke = await leaf_pair(cluster)
    try:
        members = [await spoke.subscribe("leaf.work", queue="workers") for _ in range(2)]
        fence = await spoke.subscribe("leaf.fence")
        await crossed(hub, spoke, "leaf.fence")
        for i in range(20):
            await hub.publish("leaf.work", str(i).encode())
        await hub.publish("leaf.fence", b"end")
        while (await fence.next_msg(timeout=STEP_TIMEOUT)).data != b"end":
            pass
        got = sum(member.pending_msgs for member in members)
        check(got == 20, f"{got} deliveries of 20 to the far queue group")
    finally:
        await hub.close()
        await spoke.close()


async def scenario_cluster_pubsub(nc):
    await scenario_leaf_pubsub(nc, cluster=True)


async def scenario_cluster_request_reply(nc):
    await scenario_leaf_request_reply(nc, cluster=True)


async def scenario_cluster_queue(nc):
    await scenario_leaf_queue(nc, cluster=True)


async def main():
    for name in ENV["scenarios"]:
        scenario = globals().get(f"scenario_{name}")
        if scenario is None:
            result = {"scenario": name, "ok": False, "error": "no such scenario in the Python suite"}
        else:
            try:
                nc = await connect()
                try:
                    await asyncio.wait_for(scenario(nc), 20)
                finally:
                    await nc.close()
                result = {"scenario": name, "ok": True}
            except Exception as err:
                result = {"scenario": name, "ok": False, "error": f"{type(err).__name__}: {err}"}
        print(json.dumps(result), flush=True)


asyncio.run(main())
