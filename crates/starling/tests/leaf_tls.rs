//! Leaf remotes that trust the system's roots, as nats-server's do when a
//! remote has no `ca_file`: the binary, with `SSL_CERT_FILE` naming the
//! roots it reads (set per process, which an in-process test cannot do).
//! The hub is a Starling binary with a certificate of the test CA in
//! `tests/certs/` (made with openssl for 20 years) on its leafnode port;
//! every wait is for a line the servers log.

mod common;

use common::{Running, test_cert};

#[test]
fn remotes_without_a_ca_file_trust_the_system_roots() {
    let (ca, cert, key) = (
        test_cert("ca.pem"),
        test_cert("hub-cert.pem"),
        test_cert("hub-key.pem"),
    );
    let mut hub = Running::start(
        "HUB",
        &format!(
            "leafnodes {{ host: 127.0.0.1, port: -1, tls {{ cert_file: {cert:?}, key_file: {key:?} }} }}\n"
        ),
        None,
    );
    let listening = hub.until("Listening for leafnode connections on ");
    let (_, address) = listening
        .split_once("Listening for leafnode connections on ")
        .expect("address");
    let port = address.rsplit(':').next().expect("port").trim().to_owned();
    let remote = |url: &str, tls: &str| {
        format!("leafnodes {{ remotes [ {{ url: \"{url}://127.0.0.1:{port}\"{tls} }} ] }}\n")
    };

    // The hub's CA among the system's roots: a tls:// URL, a
    // tls block without ca_file, and a nats:// URL to a hub that asks for
    // TLS all verify it.
    for (name, config) in [
        ("TLSURL", remote("tls", "")),
        ("TLSBLOCK", remote("nats", ", tls { timeout: 3 }")),
        ("HUBASKS", remote("nats", "")),
    ] {
        let mut spoke = Running::start(name, &config, Some(&ca));
        spoke.until("Connected leafnode to ");
        hub.until(&format!(
            "Leafnode connection created for account: \"$G\" (remote \"{name}\")"
        ));
    }

    // With the usual roots, which do not hold it: the handshake fails...
    let mut spoke = Running::start("UNTRUSTED", &remote("tls", ""), None);
    let failed = spoke.until("TLS handshake error");
    assert!(failed.contains("certificate"), "{failed}");
    // ...unless the remote says `insecure: true`, with nats-server's warning.
    let mut spoke = Running::start("INSECURE", &remote("tls", ", tls { insecure: true }"), None);
    assert!(
        spoke
            .log
            .iter()
            .any(|line| line.contains("will not be verified. DO NOT USE IN PRODUCTION!")),
        "{}",
        spoke.log.join("\n")
    );
    spoke.until("Connected leafnode to ");
    hub.until("(remote \"INSECURE\")");
}
