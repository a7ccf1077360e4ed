//! Operations and their rules: slow consumers, permissions, echo,
//! auto-unsubscribe, verbose and pedantic.

use super::*;

#[test]
fn a_slow_consumer_is_cut_off_and_its_publisher_goes_on() {
    let clock = Clock::new();
    let broker = broker(ServerOptions {
        max_pending: 4096,
        max_payload: 1024,
        ..ServerOptions::default()
    });
    let mut slow = Client::new(&broker, clock);
    let mut healthy = Client::new(&broker, clock);
    let mut publisher = Client::new(&broker, clock);
    slow.send(clock, CONNECT).send(clock, "SUB foo 1\r\n");
    healthy.send(clock, CONNECT).send(clock, "SUB foo 1\r\n");
    publisher.send(clock, CONNECT);
    let message = format!("PUB foo 1000\r\n{}\r\n", "x".repeat(1000));
    for round in 0..10 {
        publisher.send(clock, &message);
        // The healthy subscriber's writer keeps up; the slow one's never runs.
        assert!(
            healthy.output().starts_with("MSG foo 1 1000\r\n"),
            "round {round}"
        );
    }
    assert_eq!(
        slow.link.close_reason(),
        Some(CloseReason::SlowConsumerPendingBytes)
    );
    assert_eq!(publisher.closed, None);
    assert_eq!(publisher.output(), "");
}

#[test]
fn permissions_refuse_publish_and_subscribe_with_nats_servers_texts() {
    let clock = Clock::new();
    let broker = broker_from(
        "authorization { users: [ { user: a, password: b, permissions: { publish: \"foo.>\", subscribe: { deny: \"secret\" } } } ] }",
    );
    let mut client = Client::new(&broker, clock);
    client.send(
        clock,
        "CONNECT {\"user\":\"a\",\"pass\":\"b\",\"verbose\":false}\r\n",
    );
    client.output();
    client.send(
        clock,
        "PUB bar 0\r\n\r\nSUB secret 1\r\nSUB foo.* q 2\r\nPUB foo.x 0\r\n\r\n",
    );
    assert_eq!(
        client.output(),
        "-ERR 'Permissions Violation for Publish to \"bar\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"secret\"'\r\n\
         MSG foo.x 2 0\r\n\r\n"
    );
    assert_eq!(client.closed, None);
}

#[test]
fn echo_off_skips_the_publishers_own_subscriptions() {
    let clock = Clock::new();
    let broker = broker(ServerOptions::default());
    let mut quiet = Client::new(&broker, clock);
    let mut other = Client::new(&broker, clock);
    quiet.send(
        clock,
        "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\n",
    );
    other.send(clock, CONNECT).send(clock, "SUB foo 9\r\n");
    quiet.send(clock, "PUB foo 2\r\nhi\r\n");
    assert_eq!(quiet.output(), "");
    assert_eq!(other.output(), "MSG foo 9 2\r\nhi\r\n");
    other.send(clock, "PUB foo 2\r\nyo\r\n");
    assert_eq!(quiet.output(), "MSG foo 1 2\r\nyo\r\n");
}

#[test]
fn unsub_with_a_maximum_stops_after_that_many() {
    let clock = Clock::new();
    let broker = broker(ServerOptions::default());
    let mut client = Client::new(&broker, clock);
    client
        .send(clock, CONNECT)
        .send(clock, "SUB foo 1\r\nUNSUB 1 2\r\n");
    for _ in 0..4 {
        client.send(clock, "PUB foo 1\r\nx\r\n");
    }
    assert_eq!(client.output(), "MSG foo 1 1\r\nx\r\n".repeat(2));
    assert_eq!(client.state.me.subscription_count(), 0);
}

#[test]
fn verbose_and_pedantic_are_nats_servers_defaults_until_connect() {
    let clock = Clock::new();
    let broker = broker(ServerOptions::default());
    let mut client = Client::new(&broker, clock);
    client.send(clock, "SUB foo 1\r\nPUB foo.*.bar 0\r\n\r\n");
    assert_eq!(
        client.output(),
        "+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n"
    );
    client
        .send(clock, CONNECT)
        .send(clock, "PUB foo.*.bar 0\r\n\r\nPING\r\n");
    assert_eq!(client.output(), "PONG\r\n");
}

#[test]
fn an_info_updated_before_the_first_ping_follows_its_pong() {
    let clock = Clock::new();
    let broker = broker_from("cluster { name: c, port: 6222 }");
    let mut client = Client::new(&broker, clock);
    client.link.meta().ip = "127.0.0.1".to_owned();
    client.send(clock, "CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
    let peer = starling_proto::route::RouteInfo::parse(
        br#"{"server_id":"NPEER","connect_urls":["127.0.0.1:4223"]}"#,
    )
    .expect("an INFO");
    let cluster = broker.cluster.as_ref().expect("a cluster");
    assert_eq!(cluster.peer_urls(&peer, true), (true, false, false));
    client.send(clock, "PING\r\n");
    // nats.go's connect reads PONG (or -ERR) after its PING, nothing else.
    let output = client.output();
    assert!(output.starts_with("PONG\r\nINFO {"), "{output}");
    assert!(output.contains("127.0.0.1:4223"), "{output}");
}

#[test]
fn max_sub_tokens_refuses_longer_subscriptions_and_stays_open() {
    let clock = Clock::new();
    let broker = broker_from("max_sub_tokens: 2");
    let mut client = Client::new(&broker, clock);
    client
        .send(clock, CONNECT)
        .send(clock, "SUB a.b.c 1\r\nSUB a.b 2\r\nPING\r\n");
    assert_eq!(
        client.output(),
        "-ERR 'Permissions Violation for Subscription to \"a.b.c\", too many tokens'\r\nPONG\r\n"
    );
    assert_eq!(client.closed, None);
    assert_eq!(client.state.me.subscription_count(), 1);
}

#[test]
fn without_the_sublist_cache_messages_still_find_their_subscribers() {
    let clock = Clock::new();
    let broker = broker_from("disable_sublist_cache: true");
    let mut client = Client::new(&broker, clock);
    client.send(clock, CONNECT).send(
        clock,
        "SUB foo.* 1\r\nPUB foo.bar 2\r\nhi\r\nPUB foo.baz 0\r\n\r\n",
    );
    assert_eq!(
        client.output(),
        "MSG foo.bar 1 2\r\nhi\r\nMSG foo.baz 1 0\r\n\r\n"
    );
    let stats = broker.account(None).stats();
    assert_eq!((stats.cached_subjects, stats.cache_hits), (0, 0));
}

#[test]
fn without_header_support_no_client_gets_headers() {
    let clock = Clock::new();
    let off = broker_from("no_header_support: true");
    assert!(!off.info.headers, "INFO says headers: false");
    // A client asking for no_responders is refused, as nats-server does.
    let mut asking = Client::new(&off, clock);
    asking.send(
        clock,
        "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n",
    );
    assert_eq!(
        asking.output(),
        "-ERR 'no responders requires headers support'\r\n"
    );
    assert!(asking.closed.is_some());
    // HPUB from a client that asked for headers reads as from one that
    // did not ask, on a server with header support.
    let hpub = "SUB h 1\r\nHPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n";
    let mut client = Client::new(&off, clock);
    client.send(clock, "CONNECT {\"verbose\":false,\"headers\":true}\r\n");
    client.send(clock, hpub);
    let on = broker_from("");
    let mut plain = Client::new(&on, clock);
    plain.send(clock, "CONNECT {\"verbose\":false,\"headers\":false}\r\n");
    plain.send(clock, hpub);
    assert_eq!(client.output(), plain.output());
}
