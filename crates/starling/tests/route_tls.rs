//! Routes in TLS without a `ca_file` verify members against the system's
//! roots both ways, as nats-server's do: the binary, with `SSL_CERT_FILE`
//! naming the roots it reads (set per process, which an in-process test
//! cannot do). The members present a certificate of the route test CA in
//! `tests/certs/` (for server and client use); every wait is for a line
//! the servers log.

mod common;

use common::{Running, test_cert};

/// A member's cluster block: TLS without `ca_file`, `routes` appended.
fn member(routes: &str) -> String {
    let (cert, key) = (test_cert("member-cert.pem"), test_cert("member-key.pem"));
    format!(
        "cluster {{ name: C, host: 127.0.0.1, port: -1, tls {{ cert_file: {cert:?}, key_file: {key:?} }}{routes} }}\n"
    )
}

/// `, routes: [...]` to the member whose log says where it listens.
fn routes_to(member: &mut Running) -> String {
    let marker = "Listening for route connections on ";
    let line = member.until(marker);
    let (_, address) = line.split_once(marker).expect("address");
    format!(", routes: [\"nats://{}\"]", address.trim())
}

#[test]
fn routes_without_a_ca_file_trust_the_system_roots() {
    let roots = test_cert("route-ca.pem");
    // The CA among both members' system roots: the route comes up.
    let mut a = Running::start("A", &member(""), Some(&roots));
    let to_a = routes_to(&mut a);
    let mut b = Running::start("B", &member(&to_a), Some(&roots));
    b.until("Route connection created");
    a.until("Route connection created");

    // The dialling member's usual roots do not hold it: it refuses the
    // accepting member's certificate.
    let mut c = Running::start("C", &member(&to_a), None);
    let failed = c.until("TLS handshake error");
    assert!(failed.contains("certificate"), "{failed}");

    // The accepting member's do not: it refuses the dialling member's.
    let mut d = Running::start("D", &member(""), None);
    let to_d = routes_to(&mut d);
    let _e = Running::start("E", &member(&to_d), Some(&roots));
    let failed = d.until("TLS route handshake error");
    assert!(failed.contains("certificate"), "{failed}");
}

/// A member that checks a route's certificate against its `routes`' hosts
/// (one route, to `host` on a port nothing listens on).
fn checking_member(host: &str) -> String {
    let (cert, key) = (test_cert("member-cert.pem"), test_cert("member-key.pem"));
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    format!(
        "cluster {{ name: C, host: 127.0.0.1, port: -1, routes: [\"nats://{host}:{dead}\"]\n\
         tls {{ cert_file: {cert:?}, key_file: {key:?}, verify_cert_and_check_known_urls: true }} }}\n"
    )
}

#[test]
fn verify_cert_and_check_known_urls_takes_only_routes_named_in_the_certificate() {
    let roots = test_cert("route-ca.pem");
    // The member certificate names DNS:localhost.
    let mut named = Running::start("KNOWN", &checking_member("localhost"), Some(&roots));
    let to_named = routes_to(&mut named);
    let mut dialler = Running::start("DIALLER", &member(&to_named), Some(&roots));
    dialler.until("Route connection created");
    named.until("Route connection created");
    let mut unnamed = Running::start("UNKNOWN", &checking_member("127.0.0.1"), Some(&roots));
    let to_unnamed = routes_to(&mut unnamed);
    let _refused = Running::start("REFUSED", &member(&to_unnamed), Some(&roots));
    unnamed.until("Router authorization violation");
}

/// A member that maps a route's certificate to its cluster user.
fn mapping_member(user: &str) -> String {
    let (cert, key) = (test_cert("member-cert.pem"), test_cert("member-key.pem"));
    format!(
        "cluster {{ name: C, host: 127.0.0.1, port: -1\n\
         authorization {{ user: {user:?}, password: unused }}\n\
         tls {{ cert_file: {cert:?}, key_file: {key:?}, verify_and_map: true }} }}\n"
    )
}

#[test]
fn verify_and_map_takes_routes_whose_certificate_names_the_cluster_user() {
    let roots = test_cert("route-ca.pem");
    // The member certificate names DNS:localhost: the user, without a
    // password in the dialler's CONNECT.
    let mut mapping = Running::start("MAPS", &mapping_member("localhost"), Some(&roots));
    let to_mapping = routes_to(&mut mapping);
    let mut dialler = Running::start("MAPPED", &member(&to_mapping), Some(&roots));
    dialler.until("Route connection created");
    mapping.until("Route connection created");
    let mut other = Running::start("OTHER", &mapping_member("someone"), Some(&roots));
    let to_other = routes_to(&mut other);
    let _refused = Running::start("UNMAPPED", &member(&to_other), Some(&roots));
    other.until("Router authorization violation");
}

#[test]
fn verify_cert_and_check_known_urls_takes_a_nats_server_peer() {
    let installed = std::process::Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("nats-server is not installed: the known-urls interop test is skipped");
        return;
    }
    let roots = test_cert("route-ca.pem");
    // The member certificate names DNS:localhost, a host of the routes.
    let mut named = Running::start("KNOWNNATS", &checking_member("localhost"), Some(&roots));
    let to_named = routes_to(&mut named);
    let (cert, key) = (test_cert("member-cert.pem"), test_cert("member-key.pem"));
    let dir = std::env::temp_dir().join(format!("starling-known-urls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("nats.conf");
    std::fs::write(
        &file,
        format!(
            "cluster {{ name: C, host: 127.0.0.1, port: -1{to_named}\n\
             tls {{ cert_file: {cert:?}, key_file: {key:?}, ca_file: {roots:?} }} }}\n"
        ),
    )
    .expect("config written");
    let mut nats = std::process::Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", "-1", "-c"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server starts");
    named.until("Route connection created");
    let _ = nats.kill();
    let _ = nats.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
