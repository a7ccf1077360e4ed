//! Scripted byte sessions, good and bad, against Starling and against what
//! nats-server 2.9.10 answered to the same bytes.
//!
//! nats-server's replies are recorded in `tests/recorded/` (INFO values that
//! differ between servers and runs are masked). When `nats-server` is on
//! PATH the replies are also recorded live and Starling is compared with
//! those; `STARLING_RECORD=1` rewrites the files from the live server.
//! Deliberate differences are listed with their reason and checked against
//! Starling's own expected reply.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use starling_server::ServerOptions;
use starling_tests::{RawClient, start_server};

/// Server settings a case needs beyond the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limits {
    Defaults,
    MaxSubscriptions2,
    MaxControlLine64,
    Permissions,
}

/// Users with permissions, for the authentication and permission cases.
const PERMISSIONS_CONFIG: &str = r#"
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

struct Case {
    name: &'static str,
    limits: Limits,
    input: &'static [u8],
    /// PONGs that end the session; 0 means "read until the server closes".
    pongs: usize,
    /// Where Starling deliberately answers differently: why, and its reply.
    differs: Option<(&'static str, &'static str)>,
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

const CASES: &[Case] = &[
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

fn control_line_case() -> Vec<u8> {
    let mut input = b"CONNECT {\"verbose\":false}\r\nPUB ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 5000));
    input.extend_from_slice(b" 1\r\nx\r\n");
    input
}

/// A session's transcript: the masked INFO line, then the replies.
async fn transcript(addr: SocketAddr, input: &[u8], pongs: usize) -> String {
    let mut client = RawClient::connect(addr).await;
    client.send(input).await;
    let limit = Duration::from_secs(5);
    let (mut replies, mut closed) = (Vec::new(), false);
    if pongs == 0 {
        (replies, closed) = client.read_to_close(limit).await;
    } else {
        while replies.windows(6).filter(|w| w == b"PONG\r\n").count() < pongs && !closed {
            let (more, now_closed) = client.read_until(b"PONG\r\n", limit).await;
            if more.is_empty() && !now_closed {
                break;
            }
            replies.extend_from_slice(&more);
            closed = now_closed;
        }
    }
    let mut out = format!("{}\n", mask_info(&client.info));
    out.push_str(&escape(&replies));
    if closed {
        out.push_str("<closed>\n");
    }
    out
}

/// Masks the INFO values that differ between servers and runs.
fn mask_info(line: &str) -> String {
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
fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        out.push_str(&line.escape_ascii().to_string());
        out.push('\n');
    }
    out
}

fn recorded_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("recorded")
        .join(format!("{name}.txt"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// A real nats-server on loopback, killed on drop.
struct NatsServer {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn nats_server_installed() -> bool {
    Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn start_nats_server(limits: Limits) -> NatsServer {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("starling-raw-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("server.conf");
    let body = match limits {
        Limits::Defaults => "",
        Limits::MaxSubscriptions2 => "max_subscriptions: 2\n",
        Limits::MaxControlLine64 => "max_control_line: 64\n",
        Limits::Permissions => PERMISSIONS_CONFIG,
    };
    std::fs::write(&config, body).expect("config written");
    let child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-c"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    NatsServer {
        child,
        addr,
        _dir: TempDir(dir),
    }
}

fn starling_options(limits: Limits, options: &mut ServerOptions) {
    match limits {
        Limits::Defaults => {}
        Limits::MaxSubscriptions2 => options.max_subscriptions = 2,
        Limits::MaxControlLine64 => options.max_control_line = 64,
        Limits::Permissions => {
            let root = starling_conf::parse_str(PERMISSIONS_CONFIG).expect("config parses");
            options.auth = starling_server::options_from_config(&root)
                .expect("valid options")
                .server
                .auth;
        }
    }
}

#[tokio::test]
async fn replies_match_nats_server() {
    let live = nats_server_installed();
    let record = std::env::var_os("STARLING_RECORD").is_some();
    assert!(
        !record || live,
        "STARLING_RECORD=1 needs nats-server on PATH"
    );
    let long_line = Case {
        name: "max_control_line_on_long_pub",
        limits: Limits::Defaults,
        input: Box::leak(control_line_case().into_boxed_slice()),
        pongs: 0,
        differs: None,
    };
    let cases: Vec<&Case> = CASES.iter().chain([&long_line]).collect();

    let mut failures = Vec::new();
    for limits in [
        Limits::Defaults,
        Limits::MaxSubscriptions2,
        Limits::MaxControlLine64,
        Limits::Permissions,
    ] {
        let starling = start_server(|o| starling_options(limits, o)).await;
        let nats = if live {
            Some(start_nats_server(limits).await)
        } else {
            None
        };
        for Case {
            name,
            input,
            pongs,
            differs,
            ..
        } in cases.iter().copied().filter(|c| c.limits == limits)
        {
            let ours = transcript(starling.client_addr(), input, *pongs).await;
            let path = recorded_path(name);
            let theirs = match &nats {
                Some(nats) => {
                    let live = transcript(nats.addr, input, *pongs).await;
                    if record {
                        std::fs::write(&path, &live).expect("recording written");
                    }
                    live
                }
                None => std::fs::read_to_string(&path).unwrap_or_else(|_| {
                    panic!(
                        "{} is missing: record it with STARLING_RECORD=1",
                        path.display()
                    )
                }),
            };
            let info_line = theirs.lines().next().unwrap_or_default();
            let expected = match differs {
                Some((_, ours_expected)) => format!("{info_line}\n{ours_expected}"),
                None => theirs.clone(),
            };
            if ours != expected {
                failures.push(format!("--- {name}\nexpected:\n{expected}got:\n{ours}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} sessions differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
