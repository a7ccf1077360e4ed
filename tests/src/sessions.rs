//! The raw-protocol sessions: scripted client bytes, good and bad, whose
//! replies from Starling must equal nats-server 2.9.10's.
//!
//! One list serves two runners: `tests/tests/raw_protocol.rs` (Starling in
//! process, nats-server live or recorded) and `cargo xtask conformance
//! --suite differential` (both servers as processes, started from the same
//! config file), which includes this file by path. So it depends on nothing
//! but `std` and `serde_json`.

/// Server settings a case needs beyond the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    /// No configuration.
    Defaults,
    /// `max_subscriptions: 2`.
    MaxSubscriptions2,
    /// `max_control_line: 64`.
    MaxControlLine64,
    /// [`PERMISSIONS_CONFIG`].
    Permissions,
}

/// Users with permissions, for the authentication and permission cases.
pub const PERMISSIONS_CONFIG: &str = r#"
authorization {
  users: [
    { user: u, password: p, permissions: {
        publish: { allow: ["ok.>", "q.>"] }
        subscribe: { allow: ["ok.>", "q.* grp"], deny: ["ok.secret"] }
    } }
    { user: open, password: o }
  ]
}
"#;

/// One scripted session.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The file name of its recording in `tests/recorded/`.
    pub name: &'static str,
    /// The server settings it runs under.
    pub limits: Limits,
    /// The bytes the client sends after reading INFO.
    pub input: &'static [u8],
    /// PONGs that end the session; 0 means "read until the server closes".
    pub pongs: usize,
    /// Where Starling deliberately answers differently: why, and its reply.
    pub differs: Option<(&'static str, &'static str)>,
}

const fn case(name: &'static str, input: &'static [u8], pongs: usize) -> Case {
    Case {
        name,
        limits: Limits::Defaults,
        input,
        pongs,
        differs: None,
    }
}

/// The scripted sessions (see also [`all_cases`]).
pub const CASES: &[Case] = &[
    case("connect_then_ping", b"CONNECT {\"verbose\":false}\r\nPING\r\n", 1),
    case("connect_without_space", b"CONNECT{\"verbose\":false}\r\nPING\r\n", 1),
    case("no_connect_uses_verbose_defaults", b"PING\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n", 2),
    case("empty_connect_is_verbose", b"CONNECT {}\r\nPING\r\n", 1),
    case(
        "mixed_case_tabs_spaces_bare_lf",
        b"connect {\"verbose\":false}\r\nsub\t foo \t 1\r\npUb \t\tfoo\t  5  \r\nhello\r\nPiNg\n",
        1,
    ),
    case("ping_with_trailing_garbage", b"PINGxyz\r\nPONG whatever\r\n+OK\r\nPING\r\n", 2),
    case("unknown_operation", b"CONNECT {\"verbose\":false}\r\nFOO bar\r\n", 0),
    case("leading_space", b"CONNECT {\"verbose\":false}\r\n PING\r\n", 0),
    case("empty_line", b"CONNECT {\"verbose\":false}\r\n\r\n", 0),
    case("msg_from_client", b"CONNECT {\"verbose\":false}\r\nMSG foo 1 2\r\nhi\r\n", 0),
    case("unsub_without_argument", b"CONNECT {\"verbose\":false}\r\nUNSUB\r\n", 0),
    case("payload_longer_than_declared", b"CONNECT {\"verbose\":false}\r\nPUB foo 3\r\nhello\r\n", 0),
    case("payload_ended_by_bare_lf", b"CONNECT {\"verbose\":false}\r\nPUB foo 2\r\nhi\nPING\r\n", 0),
    case("max_payload", b"CONNECT {\"verbose\":false}\r\nPUB foo 2000000\r\n", 0),
    case("bad_size", b"CONNECT {\"verbose\":false}\r\nPUB foo abc\r\n", 0),
    case("ten_digit_size", b"CONNECT {\"verbose\":false}\r\nPUB foo 0000000001\r\nx\r\n", 0),
    case("pub_with_too_many_arguments", b"CONNECT {\"verbose\":false}\r\nPUB a b c 1\r\nx\r\n", 0),
    case("sub_with_one_argument", b"CONNECT {\"verbose\":false}\r\nSUB foo\r\n", 0),
    case("unsub_with_three_arguments", b"CONNECT {\"verbose\":false}\r\nUNSUB 1 2 3\r\n", 0),
    case("verbose_session", b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nUNSUB 1\r\nPING\r\n", 1),
    case(
        "unsub_max",
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n",
        1,
    ),
    case("unsub_max_not_a_number", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\na\r\nPING\r\n", 1),
    case("unsub_max_zero", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\na\r\nPING\r\n", 1),
    case(
        "unsub_max_already_reached",
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nUNSUB 1 2\r\nPUB foo 1\r\nc\r\nPING\r\n",
        1,
    ),
    case("duplicate_sid_keeps_the_first", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\nPING\r\n", 1),
    case("unsub_unknown_sid_verbose", b"CONNECT {\"verbose\":true}\r\nUNSUB 99\r\nPING\r\n", 1),
    case("invalid_subjects_keep_the_connection", b"CONNECT {\"verbose\":true}\r\nSUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB .foo 3\r\nPING\r\n", 1),
    case("pedantic_publish_still_delivered", b"CONNECT {\"verbose\":false,\"pedantic\":true}\r\nSUB > 1\r\nPUB foo.* 2\r\nhi\r\nPING\r\n", 1),
    case(
        "wildcard_publish_without_pedantic",
        b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB foo.* 1\r\nSUB > 2\r\nPUB foo.* 1\r\na\r\nPUB foo..x 1\r\nb\r\nPING\r\n",
        1,
    ),
    // One subscription per trie node: within a node nats-server's order is
    // a hash set's, so only the order across nodes (`>`, literal, `*`) is fixed.
    case("delivery_order", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB * 2\r\nSUB > 4\r\nPUB foo 2\r\nhi\r\nPING\r\n", 1),
    case("size_token_echoed", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 05\r\nhello\r\nPING\r\n", 1),
    case("queue_subscription", b"CONNECT {\"verbose\":true}\r\nSUB foo grp 1\r\nPUB foo 1\r\nq\r\nPING\r\n", 1),
    case(
        "headers_with_reply_and_empty_payload",
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo reply.x 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n",
        1,
    ),
    case("header_block_not_validated", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo 5 7\r\nhellohi\r\nPING\r\n", 1),
    case("hpub_zero_header_is_msg", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo 0 2\r\nhi\r\nPING\r\n", 1),
    case("hpub_without_headers", b"CONNECT {\"verbose\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", 0),
    case("hpub_header_larger_than_total", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 5 2\r\n", 0),
    case("hpub_over_max_payload", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 10 2000000\r\n", 0),
    case(
        "no_responders",
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.abc 9\r\nPUB nobody.here _INBOX.abc 2\r\nhi\r\nPING\r\n",
        1,
    ),
    case(
        "no_responders_without_inbox_subscription",
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nPUB nobody.here _INBOX.abc 2\r\nhi\r\nPING\r\n",
        1,
    ),
    case(
        "no_responders_own_echo_false",
        b"CONNECT {\"verbose\":false,\"echo\":false,\"headers\":true,\"no_responders\":true}\r\nSUB svc 1\r\nSUB _INBOX.* 2\r\nPUB svc _INBOX.x 1\r\n?\r\nPING\r\n",
        1,
    ),
    case("echo_false", b"CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n", 1),
    case("no_responders_requires_headers", b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\n", 0),
    case("invalid_client_protocol", b"CONNECT {\"verbose\":false,\"protocol\":2}\r\n", 0),
    case("account_in_connect", b"CONNECT {\"verbose\":false,\"account\":\"A\"}\r\n", 0),
    case("invalid_connect_json", b"CONNECT {\"verbose\":false\r\n", 0),
    case("connect_field_of_wrong_type", b"CONNECT {\"verbose\":\"no\"}\r\n", 0),
    case("unknown_connect_fields_ignored", b"CONNECT {\"verbose\":false,\"whatever\":[1,2]}\r\nPING\r\n", 1),
    case("info_from_client_ignored", b"CONNECT {\"verbose\":false}\r\nINFO {\"server_id\":\"x\"}\r\nPING\r\n", 1),
    case("invalid_info_from_client", b"CONNECT {\"verbose\":false}\r\nINFO {\r\n", 0),
    case("err_from_client_closes", b"CONNECT {\"verbose\":false}\r\n-ERR 'oops'\r\n", 0),
    case("reserved_gateway_subject", b"CONNECT {\"verbose\":false}\r\nSUB > 1\r\nPUB _GR_.abc.def 2\r\nhi\r\nPING\r\n", 1),
    case(
        "reserved_reply_subjects",
        b"CONNECT {\"verbose\":false}\r\nSUB > 1\r\nPUB foo _R_.abc 2\r\nhi\r\nPUB foo $JS.ACK.x 2\r\nhi\r\nPING\r\n",
        1,
    ),
    Case {
        name: "max_subscriptions",
        limits: Limits::MaxSubscriptions2,
        input: b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n",
        pongs: 1,
        differs: None,
    },
    Case {
        name: "max_control_line_on_connect",
        limits: Limits::MaxControlLine64,
        input: b"CONNECT {\"verbose\":false,\"name\":\"a-name-long-enough-to-pass-sixty-four-bytes-of-json\"}\r\n",
        pongs: 0,
        differs: None,
    },
    Case {
        name: "max_control_line_on_unterminated_line",
        limits: Limits::MaxControlLine64,
        input: b"CONNECT {\"verbose\":false}\r\nSUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        pongs: 0,
        differs: None,
    },
    Case {
        name: "permission_violations",
        limits: Limits::Permissions,
        input: b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nPUB no.way 2\r\nhi\r\nSUB no.way 1\r\nSUB no.way grp 2\r\nSUB ok.secret 3\r\nSUB ok.fine 4\r\nPUB ok.fine 2\r\nhi\r\nPING\r\n",
        pongs: 1,
        differs: None,
    },
    Case {
        name: "permission_wildcard_subscription_skips_denied_subjects",
        limits: Limits::Permissions,
        input: b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nSUB ok.> 5\r\nPUB ok.secret 1\r\ns\r\nPUB ok.fine 1\r\nf\r\nPING\r\n",
        pongs: 1,
        differs: None,
    },
    Case {
        name: "permission_queue_groups",
        limits: Limits::Permissions,
        input: b"CONNECT {\"verbose\":true,\"user\":\"u\",\"pass\":\"p\"}\r\nSUB q.a grp 6\r\nSUB q.a other 7\r\nSUB q.a 8\r\nPUB q.a 1\r\nx\r\nPING\r\n",
        pongs: 1,
        differs: None,
    },
    Case {
        name: "auth_wrong_password",
        limits: Limits::Permissions,
        input: b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"nope\"}\r\nPING\r\n",
        pongs: 0,
        differs: None,
    },
    Case {
        name: "auth_first_op_not_connect",
        limits: Limits::Permissions,
        input: b"PING\r\n",
        pongs: 0,
        differs: None,
    },
    Case {
        name: "auth_user_without_permissions",
        limits: Limits::Permissions,
        input: b"CONNECT {\"verbose\":false,\"user\":\"open\",\"pass\":\"o\"}\r\nSUB no.way 1\r\nPUB no.way 2\r\nhi\r\nPING\r\n",
        pongs: 1,
        differs: None,
    },
    Case {
        name: "hmsg_from_client",
        limits: Limits::Defaults,
        input: b"CONNECT {\"verbose\":false}\r\nHMSG foo 1 2 2\r\n\r\nPING\r\n",
        pongs: 1,
        differs: Some((
            "nats-server swallows a client HMSG as an empty message; Starling refuses it like MSG",
            "-ERR \\'Unknown Protocol Operation\\'\\r\\n\n<closed>\n",
        )),
    },
];

/// A PUB whose control line is longer than the default limit.
pub fn control_line_case() -> Vec<u8> {
    let mut input = b"CONNECT {\"verbose\":false}\r\nPUB ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 5000));
    input.extend_from_slice(b" 1\r\nx\r\n");
    input
}

/// Masks the INFO values that differ between servers and runs.
pub fn mask_info(line: &str) -> String {
    let json = line.trim_end().strip_prefix("INFO ").expect("an INFO line");
    let mut info: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).expect("INFO JSON");
    for key in [
        "server_id",
        "server_name",
        "version",
        "go",
        "host",
        "port",
        "client_id",
        "client_ip",
    ] {
        if let Some(value) = info.get_mut(key) {
            *value = serde_json::Value::String("*".into());
        }
    }
    format!("INFO {}", serde_json::Value::Object(info))
}

/// Bytes as readable text: escapes, and a line break after each `\n`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        out.push_str(&line.escape_ascii().to_string());
        out.push('\n');
    }
    out
}

impl Limits {
    /// Every setting, in the order the runners start servers.
    pub const ALL: [Self; 4] = [
        Self::Defaults,
        Self::MaxSubscriptions2,
        Self::MaxControlLine64,
        Self::Permissions,
    ];

    /// The configuration text (for nats-server and Starling alike).
    pub fn config(self) -> &'static str {
        match self {
            Self::Defaults => "",
            Self::MaxSubscriptions2 => "max_subscriptions: 2\n",
            Self::MaxControlLine64 => "max_control_line: 64\n",
            Self::Permissions => PERMISSIONS_CONFIG,
        }
    }
}

/// [`CASES`] and the long-control-line case, which is built at run time.
pub fn all_cases() -> Vec<Case> {
    let long_line = Case {
        name: "max_control_line_on_long_pub",
        limits: Limits::Defaults,
        input: Box::leak(control_line_case().into_boxed_slice()),
        pongs: 0,
        differs: None,
    };
    CASES.iter().copied().chain([long_line]).collect()
}

/// Websocket listener settings an upgrade case runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsSettings {
    /// `no_tls: true` and nothing else.
    Plain,
    /// `compression: true`.
    Compression,
    /// `allowed_origins: ["http://allowed.example"]`.
    AllowedOrigins,
    /// `same_origin: true`.
    SameOrigin,
}

impl WsSettings {
    /// Every setting, in the order the runners start servers.
    pub const ALL: [Self; 4] = [
        Self::Plain,
        Self::Compression,
        Self::AllowedOrigins,
        Self::SameOrigin,
    ];

    /// The configuration text for a websocket listener on `port`.
    pub fn config(self, port: u16) -> String {
        let extra = match self {
            Self::Plain => "",
            Self::Compression => "compression: true",
            Self::AllowedOrigins => "allowed_origins: [\"http://allowed.example\"]",
            Self::SameOrigin => "same_origin: true",
        };
        format!("websocket {{\n  listen: \"127.0.0.1:{port}\"\n  no_tls: true\n  {extra}\n}}\n")
    }
}

/// One scripted upgrade request.
#[derive(Debug, Clone, Copy)]
pub struct Upgrade {
    /// Its name in reports.
    pub name: &'static str,
    /// The listener settings it runs under.
    pub settings: WsSettings,
    /// The request, sent as is.
    pub request: &'static str,
}

const fn upgrade(name: &'static str, settings: WsSettings, request: &'static str) -> Upgrade {
    Upgrade {
        name,
        settings,
        request,
    }
}

/// The upgrade requests, accepted and refused, whose replies (status line,
/// headers, body) must equal nats-server's.
pub const UPGRADES: &[Upgrade] = &[
    upgrade(
        "upgrade_accepted",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "upgrade_any_path_case_insensitive_headers",
        WsSettings::Plain,
        "GET /some/path?x=1 HTTP/1.1\r\nhost: example.test\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
    ),
    upgrade(
        "deflate_offer_without_compression",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    ),
    upgrade(
        "deflate_negotiated",
        WsSettings::Compression,
        "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    ),
    upgrade(
        "compression_without_offer",
        WsSettings::Compression,
        "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "method_not_get",
        WsSettings::Plain,
        "POST / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "missing_upgrade_header",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "missing_connection_header",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "missing_key",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "wrong_version",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    ),
    upgrade(
        "missing_host",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "http10_request",
        WsSettings::Plain,
        "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "http10_refused_by_the_handler",
        WsSettings::Plain,
        "POST / HTTP/1.0\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "two_host_headers",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "malformed_host",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: a b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "empty_host",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost:\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade("not_http", WsSettings::Plain, "garbage\r\n\r\n"),
    upgrade(
        "header_without_colon",
        WsSettings::Plain,
        "GET / HTTP/1.1\r\nHost: example.test\r\nBad Header\r\n\r\n",
    ),
    upgrade(
        "origin_allowed",
        WsSettings::AllowedOrigins,
        "GET / HTTP/1.1\r\nHost: example.test\r\nOrigin: http://allowed.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "origin_not_allowed",
        WsSettings::AllowedOrigins,
        "GET / HTTP/1.1\r\nHost: example.test\r\nOrigin: http://other.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "origin_other_port",
        WsSettings::AllowedOrigins,
        "GET / HTTP/1.1\r\nHost: example.test\r\nOrigin: http://allowed.example:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "no_origin_with_allowed_origins",
        WsSettings::AllowedOrigins,
        "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "same_origin_matches",
        WsSettings::SameOrigin,
        "GET / HTTP/1.1\r\nHost: example.test:8080\r\nOrigin: http://example.test:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "same_origin_differs",
        WsSettings::SameOrigin,
        "GET / HTTP/1.1\r\nHost: example.test:8080\r\nOrigin: http://other.test:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    upgrade(
        "same_origin_scheme_differs",
        WsSettings::SameOrigin,
        "GET / HTTP/1.1\r\nHost: example.test\r\nOrigin: https://example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
];

/// An upgrade reply as readable text: the HTTP head (the `Date` value
/// masked) and, for a refusal, the body; what follows a 101 (the INFO
/// frame) is left out.
pub fn mask_http(reply: &[u8]) -> String {
    let (head, body) = match reply.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => reply.split_at(end + 4),
        None => (reply, &[][..]),
    };
    let mut out = String::new();
    for line in head.split_inclusive(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        if text.to_ascii_lowercase().starts_with("date:") {
            out.push_str("Date: *\\r\\n\n");
        } else {
            out.push_str(&line.escape_ascii().to_string());
            out.push('\n');
        }
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        out.push_str(&escape(body));
    }
    out
}
