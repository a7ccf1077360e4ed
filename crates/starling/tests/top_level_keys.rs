//! Every top-level key nats-server 2.9.10's configuration reader knows
//! (its `processConfigFileLine`, aliases included), each in a small file
//! through `starling -t` and, when it is installed, `nats-server -t`:
//! Starling accepts every file nats-server accepts, except the JetStream,
//! MQTT and gateway keys, which it refuses saying they are not supported
//! yet, and the few settings listed in `STILL_REFUSED` with the reason.
//! The table also fails when nats-server refuses a file Starling accepts,
//! so each sample stays a valid use of its key.

mod check;

use std::path::{Path, PathBuf};

use check::{check, nats_server_installed};

const BIN: &str = env!("CARGO_BIN_EXE_starling");

/// Keys Starling refuses on purpose: whole features it does not have.
const NOT_SUPPORTED: &[&str] = &[
    "gateway",
    "jetstream",
    "store_dir",
    "storedir",
    "default_js_domain",
    "mqtt",
];

/// Settings still refused, each with the reason (docs/compatibility.md):
/// none now.
const STILL_REFUSED: &[(&str, &str)] = &[];

fn certs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/certs")
}

fn operator_jwt() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/operator/operator.jwt")
}

/// (name, file) for every key.
fn samples() -> Vec<(&'static str, String)> {
    let cert = certs().join("hub-cert.pem").display().to_string();
    let key = certs().join("hub-key.pem").display().to_string();
    let ca = certs().join("ca.pem").display().to_string();
    let tls = format!("cert_file: \"{cert}\", key_file: \"{key}\"");
    let dir = std::env::temp_dir().display().to_string();
    let op = operator_jwt().display().to_string();
    let op_key = "OCFBQEMUC4BZML4XS5DPWITU2CF2W4Y3W3KL776N3RTQQ7KYG2ZTSHMA";
    vec![
        ("listen", "listen: \"127.0.0.1:4333\"".into()),
        ("client_advertise", "client_advertise: \"foo:4222\"".into()),
        ("port", "port: 4333".into()),
        ("server_name", "server_name: srv1".into()),
        ("host", "host: 127.0.0.1".into()),
        ("net", "net: 127.0.0.1".into()),
        ("debug", "debug: true".into()),
        ("trace", "trace: true".into()),
        ("trace_verbose", "trace_verbose: true".into()),
        ("logtime", "logtime: false".into()),
        ("mappings", "mappings: { foo: bar }".into()),
        ("maps", "maps: { \"a.*\": \"b.$1\" }".into()),
        (
            "disable_sublist_cache",
            "disable_sublist_cache: true".into(),
        ),
        ("no_sublist_cache", "no_sublist_cache: true".into()),
        (
            "accounts",
            "accounts: { A: { users: [ {user: a, password: a} ] } }".into(),
        ),
        (
            "authorization",
            "authorization: { user: a, password: b }".into(),
        ),
        ("http", "http: \"127.0.0.1:8333\"".into()),
        (
            "https",
            format!("https: \"127.0.0.1:8333\"\ntls {{ {tls} }}"),
        ),
        ("http_port", "http_port: 8333".into()),
        ("monitor_port", "monitor_port: 8333".into()),
        ("https_port", format!("https_port: 8333\ntls {{ {tls} }}")),
        ("http_base_path", "http_base_path: \"/nats\"".into()),
        ("cluster", "cluster: { port: 6333 }".into()),
        ("gateway", "gateway: { name: g, port: 7333 }".into()),
        ("leaf", "leaf: { port: 7444 }".into()),
        ("leafnodes", "leafnodes: { port: 7444 }".into()),
        ("store_dir", format!("store_dir: \"{dir}\"")),
        ("storedir", format!("storedir: \"{dir}\"")),
        ("jetstream", "jetstream: enabled".into()),
        ("logfile", format!("logfile: \"{dir}/top-level-keys.log\"")),
        (
            "log_file",
            format!("log_file: \"{dir}/top-level-keys.log\""),
        ),
        ("logfile_size_limit", "logfile_size_limit: 1MB".into()),
        ("log_size_limit", "log_size_limit: 1000".into()),
        ("syslog", "syslog: true".into()),
        (
            "remote_syslog",
            "remote_syslog: \"udp://127.0.0.1:514\"".into(),
        ),
        ("pidfile", format!("pidfile: \"{dir}/top-level-keys.pid\"")),
        (
            "pid_file",
            format!("pid_file: \"{dir}/top-level-keys.pid\""),
        ),
        ("ports_file_dir", format!("ports_file_dir: \"{dir}\"")),
        ("prof_port", "prof_port: 6060".into()),
        ("max_control_line", "max_control_line: 2048".into()),
        ("max_payload", "max_payload: 65536".into()),
        ("max_pending", "max_pending: 10000000".into()),
        ("max_connections", "max_connections: -1".into()),
        ("max_conn", "max_conn: 100".into()),
        ("max_traced_msg_len", "max_traced_msg_len: 100".into()),
        ("max_subscriptions", "max_subscriptions: 10".into()),
        ("max_subs", "max_subs: 10".into()),
        ("max_sub_tokens", "max_sub_tokens: 10".into()),
        (
            "max_subscription_tokens",
            "max_subscription_tokens: 10".into(),
        ),
        ("ping_interval", "ping_interval: \"1m\"".into()),
        ("ping_max", "ping_max: 3".into()),
        (
            "tls",
            format!(
                "tls {{ {tls}, ca_file: \"{ca}\", verify_and_map: true, timeout: 2,\n\
                 cipher_suites: [\"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\"], \
                 curve_preferences: [\"CurveP256\"], connection_rate_limit: 10 }}"
            ),
        ),
        ("ocsp", "ocsp: { mode: auto }".into()),
        (
            "allow_non_tls",
            format!("allow_non_tls: true\ntls {{ {tls} }}"),
        ),
        ("write_deadline", "write_deadline: \"2s\"".into()),
        ("lame_duck_duration", "lame_duck_duration: \"30s\"".into()),
        (
            "lame_duck_grace_period",
            "lame_duck_grace_period: \"5s\"".into(),
        ),
        ("operator", format!("operator: \"{op}\"\nresolver: MEMORY")),
        (
            "operators",
            format!("operators: \"{op}\"\nresolver: MEMORY"),
        ),
        ("root", format!("root: \"{op}\"\nresolver: MEMORY")),
        ("roots", format!("roots: \"{op}\"\nresolver: MEMORY")),
        (
            "root_operators",
            format!("root_operators: \"{op}\"\nresolver: MEMORY"),
        ),
        (
            "root_operator",
            format!("root_operator: \"{op}\"\nresolver: MEMORY"),
        ),
        ("resolver", format!("operator: \"{op}\"\nresolver: MEMORY")),
        (
            "account_resolver",
            format!("operator: \"{op}\"\naccount_resolver: MEMORY"),
        ),
        (
            "accounts_resolver",
            format!("operator: \"{op}\"\naccounts_resolver: MEMORY"),
        ),
        (
            "resolver_full",
            format!("operator: \"{op}\"\nresolver: {{ type: full, dir: \"{dir}\" }}"),
        ),
        (
            "resolver_tls",
            format!("operator: \"{op}\"\nresolver: MEMORY\nresolver_tls: {{ {tls} }}"),
        ),
        (
            "resolver_url",
            format!("operator: \"{op}\"\nresolver: URL(http://127.0.0.1:9090/jwt/v1/accounts/)"),
        ),
        (
            "resolver_preload",
            format!("operator: \"{op}\"\nresolver: MEMORY\nresolver_preload: {{}}"),
        ),
        (
            "resolver_pinned_accounts",
            format!("operator: \"{op}\"\nresolver: MEMORY\nresolver_pinned_accounts: []"),
        ),
        (
            "no_auth_user",
            "no_auth_user: a\nauthorization { users: [ {user: a} ] }".into(),
        ),
        (
            "system_account",
            "system_account: SYS\naccounts { SYS {} }".into(),
        ),
        ("system", "system: SYS\naccounts { SYS {} }".into()),
        ("no_system_account", "no_system_account: true".into()),
        ("no_system", "no_system: true".into()),
        ("no_sys_acc", "no_sys_acc: true".into()),
        ("no_header_support", "no_header_support: true".into()),
        ("trusted", format!("trusted: {op_key}")),
        ("trusted_keys", format!("trusted_keys: [{op_key}]")),
        ("connect_error_reports", "connect_error_reports: 10".into()),
        (
            "reconnect_error_reports",
            "reconnect_error_reports: 10".into(),
        ),
        (
            "websocket",
            "websocket: { port: 8443, no_tls: true }".into(),
        ),
        ("ws", "ws: { port: 8443, no_tls: true }".into()),
        ("mqtt", "mqtt: { port: 1883 }".into()),
        ("server_tags", "server_tags: [\"a:b\"]".into()),
        (
            "default_js_domain",
            "default_js_domain: { \"A\": \"hub\" }".into(),
        ),
    ]
}

#[test]
fn every_top_level_key_nats_server_knows() {
    let dir = std::env::temp_dir().join(format!("starling-top-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let live = nats_server_installed();
    let mut failures = Vec::new();
    for (name, text) in samples() {
        let file = dir.join(format!("{name}.conf"));
        std::fs::write(&file, format!("{text}\n")).expect("written");
        let (ours, said) = check(BIN, &file);
        let refused =
            NOT_SUPPORTED.contains(&name) || STILL_REFUSED.iter().any(|(key, _)| *key == name);
        if refused {
            if ours || !said.contains("not supported yet") {
                failures.push(format!(
                    "{name}: must be refused as not supported yet:\n{said}"
                ));
            }
        } else if !ours {
            failures.push(format!("{name}: starling refuses it:\n{said}"));
        }
        if live {
            let (theirs, their_text) = check("nats-server", &file);
            if !theirs {
                failures.push(format!(
                    "{name}: nats-server refuses the sample:\n{their_text}"
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
