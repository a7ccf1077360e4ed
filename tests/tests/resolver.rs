//! The full directory resolver, with the operator, accounts and users
//! made in the test: accounts read from the directory at start, a new
//! account pushed by a system account user (as `nsc push` does) written
//! there and usable at once, a revocation pushed the same way closing the
//! revoked user's connection, and the lookup and list requests; account
//! JWT limits; the URL resolver fetching from Python's HTTP server, over
//! HTTP and HTTPS. The replies are compared with a live nats-server's
//! when one is installed.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use nkeys::KeyPair;
use starling_tests::nats_server::NatsServer;
use starling_tests::{nats_jwt, round_trip, start_from_config};
use tokio::time::timeout;

fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let claims = serde_json::json!({
        "sub": subject, "name": name,
        "iat": 1_700_000_000_i64, "jti": format!("{subject}{name}"), "nats": nats,
    });
    nats_jwt::encode(
        &issuer.public_key(),
        |bytes| issuer.sign(bytes).unwrap(),
        claims,
    )
}

fn account_jwt(operator: &KeyPair, account: &KeyPair, name: &str, revoked: Option<&str>) -> String {
    // Explicit limits: nats-server 2.9.10 reads none as zero connections.
    let limits = serde_json::json!({ "subs": -1, "data": -1, "payload": -1, "imports": -1,
        "exports": -1, "wildcards": true, "conn": -1, "leaf": -1 });
    let mut nats = serde_json::json!({ "type": "account", "version": 2, "limits": limits });
    if let Some(user) = revoked {
        nats["revocations"] = serde_json::json!({ user: 2_000_000_000_i64 });
    }
    jwt(operator, &account.public_key(), name, nats)
}

/// A user of `account` (its key and creds).
fn user(account: &KeyPair) -> (String, String) {
    let key = KeyPair::new_user();
    // Explicit limits: nats-server 2.9.10 reads none as zero.
    let nats = serde_json::json!({ "type": "user", "version": 2, "pub": {}, "sub": {},
        "subs": -1, "data": -1, "payload": -1 });
    let token = jwt(account, &key.public_key(), "u", nats);
    let creds = nats_jwt::creds(&token, &key.seed().unwrap());
    (key.public_key(), creds)
}

async fn connect(addr: SocketAddr, creds: &str) -> Option<async_nats::Client> {
    connect_watched(addr, creds).await.map(|(client, _)| client)
}

/// A client and the events it sees.
async fn connect_watched(
    addr: SocketAddr,
    creds: &str,
) -> Option<(
    async_nats::Client,
    tokio::sync::mpsc::UnboundedReceiver<async_nats::Event>,
)> {
    let (tx, events) = tokio::sync::mpsc::unbounded_channel();
    let options = async_nats::ConnectOptions::with_credentials(creds)
        .unwrap()
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        });
    let client = options
        .max_reconnects(Some(0))
        .connect(format!("nats://{addr}"))
        .await
        .ok()?;
    starling_tests::round_trip_ok(&client)
        .await
        .then_some((client, events))
}

struct Setup {
    operator: KeyPair,
    system: KeyPair,
    config: String,
    a: KeyPair,
    b: KeyPair,
}

/// The configuration, with account A already in `dir`.
fn setup(dir: &Path) -> Setup {
    let operator = KeyPair::new_operator();
    let (system, a, b) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "O",
        serde_json::json!({ "type": "operator", "version": 2, "system_account": system.public_key() }),
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(format!("{}.jwt", a.public_key())),
        account_jwt(&operator, &a, "A", None),
    )
    .unwrap();
    let config = format!(
        "operator: \"{operator_jwt}\"\nsystem_account: {sys}\n\
         resolver: {{ type: full, dir: \"{}\" }}\n\
         resolver_preload: {{ {sys}: \"{}\" }}\n",
        dir.display(),
        account_jwt(&operator, &system, "SYS", None),
        sys = system.public_key(),
    );
    Setup {
        operator,
        system,
        config,
        a,
        b,
    }
}

/// Everything a push does, against the server at `addr`; what it saw.
async fn pushes(addr: SocketAddr, setup: &Setup) -> Vec<String> {
    let (_, sys_creds) = user(&setup.system);
    let (a_key, a_creds) = user(&setup.a);
    let (_, b_creds) = user(&setup.b);
    let admin = connect(addr, &sys_creds).await.expect("a system user");
    let (_a_user, mut events) = connect_watched(addr, &a_creds)
        .await
        .expect("A is read from the directory");
    assert!(
        connect(addr, &b_creds).await.is_none(),
        "B is not known yet"
    );
    let b_jwt = account_jwt(&setup.operator, &setup.b, "B", None);
    let reply = admin
        .request("$SYS.REQ.CLAIMS.UPDATE", b_jwt.clone().into())
        .await
        .unwrap();
    let data: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    let mut seen = vec![data["data"].to_string()];
    assert!(
        connect(addr, &b_creds).await.is_some(),
        "B is known once pushed"
    );
    let lookup = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP", setup.b.public_key());
    let found = admin.request(lookup, "".into()).await.unwrap();
    seen.push((String::from_utf8_lossy(&found.payload) == b_jwt).to_string());
    // A revocation of the connected user of A closes it.
    let revoked = account_jwt(&setup.operator, &setup.a, "A", Some(&a_key));
    let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", setup.a.public_key());
    let reply = admin.request(subject, revoked.into()).await.unwrap();
    let data: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    seen.push(data["data"].to_string());
    let closed = timeout(Duration::from_secs(10), async {
        while let Some(event) = events.recv().await {
            if matches!(event, async_nats::Event::Disconnected) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    seen.push(format!("revoked user closed: {closed}"));
    round_trip(&admin).await;
    seen
}

#[tokio::test]
async fn a_full_resolver_takes_pushed_accounts_and_revocations() {
    let dir = std::env::temp_dir().join(format!("starling-resolver-{}", std::process::id()));
    let setup = setup(&dir.join("starling"));
    let server = start_from_config(&setup.config).await;
    let ours = pushes(server.client_addr(), &setup).await;
    let (a, b) = (setup.a.public_key(), setup.b.public_key());
    assert_eq!(
        ours,
        [
            format!("{{\"account\":\"{b}\",\"code\":200,\"message\":\"jwt updated\"}}"),
            "true".to_owned(),
            format!("{{\"account\":\"{a}\",\"code\":200,\"message\":\"jwt updated\"}}"),
            "revoked user closed: true".to_owned(),
        ]
    );
    assert!(
        dir.join("starling").join(format!("{b}.jwt")).exists(),
        "B is written"
    );
    server.shutdown().await;
    if NatsServer::installed() {
        let theirs_setup = Setup {
            config: setup.config.replace("/starling\"", "/nats\""),
            ..setup
        };
        std::fs::create_dir_all(dir.join("nats")).unwrap();
        std::fs::copy(
            dir.join("starling").join(format!("{a}.jwt")),
            dir.join("nats").join(format!("{a}.jwt")),
        )
        .unwrap();
        // The directory starts with A's first JWT, as Starling's did.
        std::fs::write(
            dir.join("nats").join(format!("{a}.jwt")),
            account_jwt(&theirs_setup.operator, &theirs_setup.a, "A", None),
        )
        .unwrap();
        let nats = NatsServer::start(&theirs_setup.config, &[]).await;
        assert_eq!(pushes(nats.addr, &theirs_setup).await, ours);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A raw client of a user of `account`: CONNECT with its JWT and the
/// nonce signed, then `ops`; what came back until PONG or the close, and
/// the client (kept open).
async fn raw_user(
    addr: SocketAddr,
    account: &KeyPair,
    ops: &str,
) -> (String, starling_tests::RawClient) {
    let key = KeyPair::new_user();
    let nats = serde_json::json!({ "type": "user", "version": 2, "pub": {}, "sub": {},
        "subs": -1, "data": -1, "payload": -1 });
    let token = jwt(account, &key.public_key(), "u", nats);
    let mut raw = starling_tests::RawClient::connect(addr).await;
    let info: serde_json::Value =
        serde_json::from_str(raw.info.trim_start_matches("INFO ").trim()).unwrap();
    let nonce = info["nonce"].as_str().unwrap();
    let sig = data_encoding::BASE64URL_NOPAD.encode(&key.sign(nonce.as_bytes()).unwrap());
    let connect =
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{token}\",\"sig\":\"{sig}\"}}\r\n{ops}");
    raw.send(connect.as_bytes()).await;
    let (bytes, _) = raw.read_until(b"PONG\r\n", Duration::from_secs(10)).await;
    (String::from_utf8_lossy(&bytes).replace("\r\n", " | "), raw)
}

/// An account JWT's limits are held as the `accounts` block's are:
/// connections, subscriptions per connection, payload.
async fn limited_sessions(addr: SocketAddr, limited: &KeyPair) -> Vec<String> {
    let (first, mut open) = raw_user(
        addr,
        limited,
        "SUB a 1\r\nSUB b 2\r\nPUB a 8\r\n01234567\r\nPING\r\n",
    )
    .await;
    let (second, _) = raw_user(addr, limited, "PING\r\n").await;
    open.send(b"PUB a 9\r\n012345678\r\n").await;
    let (past, closed) = open.read_to_close(Duration::from_secs(10)).await;
    let third = format!("{} {closed}", String::from_utf8_lossy(&past).trim_end());
    vec![first, second, third]
}

#[tokio::test]
async fn account_jwt_limits_hold_as_in_nats_server() {
    let operator = KeyPair::new_operator();
    let (system, limited) = (KeyPair::new_account(), KeyPair::new_account());
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "O",
        serde_json::json!({ "type": "operator", "version": 2 }),
    );
    let limits = serde_json::json!({ "subs": 1, "data": -1, "payload": 8, "imports": -1,
        "exports": -1, "wildcards": true, "conn": 1, "leaf": -1 });
    let nats = serde_json::json!({ "type": "account", "version": 2, "limits": limits });
    let config = format!(
        "operator: \"{operator_jwt}\"\nsystem_account: {sys}\nresolver: MEMORY\n\
         resolver_preload: {{ {sys}: \"{}\", {lim}: \"{}\" }}\n",
        account_jwt(&operator, &system, "SYS", None),
        jwt(&operator, &limited.public_key(), "L", nats),
        sys = system.public_key(),
        lim = limited.public_key(),
    );
    let server = start_from_config(&config).await;
    let ours = limited_sessions(server.client_addr(), &limited).await;
    assert_eq!(
        ours,
        [
            "-ERR 'maximum subscriptions exceeded' | MSG a 1 8 | 01234567 | PONG | ",
            "-ERR 'maximum account active connections exceeded' | ",
            "-ERR 'Maximum Payload Violation' true",
        ]
    );
    if NatsServer::installed() {
        let nats = NatsServer::start(&config, &[]).await;
        assert_eq!(limited_sessions(nats.addr, &limited).await, ours);
    }
    server.shutdown().await;
}

/// Python's HTTP server over `dir` (a real HTTP server, as an account
/// server is one), killed when dropped.
struct HttpDir(std::process::Child, u16);

impl HttpDir {
    /// Serves `dir`, over TLS with `tls` (certificate and key files).
    async fn serve(dir: &Path, tls: Option<(&Path, &Path)>, basic: Option<&str>) -> Option<Self> {
        // With BASIC set, a GET without that user:password as basic
        // authentication gets 401.
        const SERVER: &str = "import base64, functools, http.server, os, ssl, sys\n\
            class Handler(http.server.SimpleHTTPRequestHandler):\n    \
                def do_GET(self):\n        \
                    want = os.environ.get('BASIC')\n        \
                    if want and self.headers.get('Authorization') != 'Basic ' + base64.b64encode(want.encode()).decode():\n            \
                        self.send_error(401)\n            \
                        return\n        \
                    super().do_GET()\n\
            handler = functools.partial(Handler, directory=sys.argv[1])\n\
            server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[2])), handler)\n\
            if len(sys.argv) > 3:\n    \
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n    \
                context.load_cert_chain(sys.argv[3], sys.argv[4])\n    \
                server.socket = context.wrap_socket(server.socket, server_side=True)\n\
            server.serve_forever()\n";
        let port = starling_tests::nats_server::free_port();
        let mut command = std::process::Command::new("python3");
        command.args(["-c", SERVER]).arg(dir).arg(port.to_string());
        if let Some((cert, key)) = tls {
            command.arg(cert).arg(key);
        }
        if let Some(basic) = basic {
            command.env("BASIC", basic);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let served = Self(child, port);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(served);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }
}

impl Drop for HttpDir {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_url_resolver_fetches_accounts_as_nats_server_does() {
    let dir = std::env::temp_dir().join(format!("starling-url-resolver-{}", std::process::id()));
    let accounts = dir.join("jwt/v1/accounts");
    std::fs::create_dir_all(&accounts).unwrap();
    // The account server asks for basic authentication: the URL's user
    // and password.
    let Some(http) = HttpDir::serve(&dir, None, Some("u:p")).await else {
        eprintln!("python3 is not installed: the URL resolver test is skipped");
        return;
    };
    let operator = KeyPair::new_operator();
    let (served, missing) = (KeyPair::new_account(), KeyPair::new_account());
    std::fs::write(
        accounts.join(served.public_key()),
        account_jwt(&operator, &served, "SERVED", None),
    )
    .unwrap();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "O",
        serde_json::json!({ "type": "operator", "version": 2 }),
    );
    let config = |port: u16| {
        format!(
            "operator: \"{operator_jwt}\"\n\
             resolver: URL(http://u:p@127.0.0.1:{port}/jwt/v1/accounts/)\n"
        )
    };
    let sessions = async |addr: SocketAddr| {
        let (_, served_creds) = user(&served);
        let (_, missing_creds) = user(&missing);
        vec![
            connect(addr, &served_creds).await.is_some(),
            connect(addr, &missing_creds).await.is_some(),
        ]
    };
    let server = start_from_config(&config(http.1)).await;
    let ours = sessions(server.client_addr()).await;
    // A reload keeps the accounts fetched while running: their users stay.
    let (_, served_creds) = user(&served);
    let kept = connect(server.client_addr(), &served_creds).await.unwrap();
    let changed = config(http.1) + "max_payload: 512\nresolver_tls: { insecure: true }\n";
    let root = starling_conf::parse_str(&changed).unwrap();
    let mut reloaded = starling_server::options_from_config(&root).unwrap().server;
    (reloaded.host, reloaded.port) = ("127.0.0.1".into(), 0);
    server.reload(reloaded).await.unwrap();
    assert!(
        starling_tests::round_trip_ok(&kept).await,
        "the fetched account's user stays"
    );
    server.shutdown().await;
    assert_eq!(ours, [true, false], "the served account only");
    if NatsServer::installed() {
        let nats = NatsServer::start(&config(http.1), &[]).await;
        assert_eq!(sessions(nats.addr).await, ours, "nats-server differs");
    }
    // Nobody home at start: the server does not start.
    let nobody = starling_tests::nats_server::free_port();
    let root = starling_conf::parse_str(&config(nobody)).unwrap();
    let mut options = starling_server::options_from_config(&root).unwrap().server;
    (options.host, options.port) = ("127.0.0.1".into(), 0);
    let refused = starling_server::Server::start(options).await.err().unwrap();
    assert!(
        refused.to_string().contains("could not fetch <\""),
        "{refused}"
    );
    drop(http);
    // Over HTTPS, the account server's certificate checked against
    // `resolver_tls`'s authority.
    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/starling/tests/certs");
    let (cert, key) = (certs.join("hub-cert.pem"), certs.join("hub-key.pem"));
    let https = HttpDir::serve(&dir, Some((&cert, &key)), None)
        .await
        .unwrap();
    let secured = format!(
        "operator: \"{operator_jwt}\"\n\
         resolver: URL(https://localhost:{}/jwt/v1/accounts/)\n\
         resolver_tls: {{ ca_file: \"{}\" }}\n",
        https.1,
        certs.join("ca.pem").display()
    );
    let server = start_from_config(&secured).await;
    assert_eq!(sessions(server.client_addr()).await, [true, false]);
    server.shutdown().await;
    drop(https);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A delete request: a generic JWT listing `accounts`, signed by `by`.
fn delete_request(by: &KeyPair, accounts: &[String]) -> String {
    let claims = serde_json::json!({
        "sub": by.public_key(), "iat": 1_700_000_000_i64, "jti": "delete",
        "nats": { "accounts": accounts },
    });
    nats_jwt::encode(&by.public_key(), |bytes| by.sign(bytes).unwrap(), claims)
}

/// Deletes of account A: refused when not the operator's, then done;
/// what each answered, and what A's connected user and a new one saw.
async fn deletes(addr: SocketAddr, setup: &Setup) -> Vec<String> {
    let (_, sys_creds) = user(&setup.system);
    let (_, a_creds) = user(&setup.a);
    let admin = connect(addr, &sys_creds).await.expect("a system user");
    let (_a_user, mut events) = connect_watched(addr, &a_creds).await.expect("A's user");
    let a = vec![setup.a.public_key()];
    let mut seen = Vec::new();
    for by in [&setup.a, &setup.operator] {
        let reply = admin
            .request("$SYS.REQ.CLAIMS.DELETE", delete_request(by, &a).into())
            .await
            .unwrap();
        let mut body: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        body.as_object_mut().unwrap().remove("server");
        seen.push(body.to_string());
    }
    let closed = timeout(Duration::from_secs(10), async {
        while let Some(event) = events.recv().await {
            if let async_nats::Event::ServerError(error) = event {
                return error.to_string();
            }
        }
        String::new()
    })
    .await
    .unwrap_or_default();
    seen.push(closed);
    seen.push(format!(
        "new user: {}",
        connect(addr, &a_creds).await.is_some()
    ));
    seen
}

#[tokio::test]
async fn a_full_resolver_deletes_accounts_as_nats_server_does() {
    let dir = std::env::temp_dir().join(format!("starling-delete-{}", std::process::id()));
    let setup = setup(&dir.join("starling"));
    let config = setup
        .config
        .replace("type: full,", "type: full, allow_delete: true,");
    let server = start_from_config(&config).await;
    let ours = deletes(server.client_addr(), &setup).await;
    let a = setup.a.public_key();
    assert_eq!(
        ours[..2],
        [
            format!(
                "{{\"error\":{{\"code\":500,\"description\":\"delete accounts request by {a} failed - not trusted\"}}}}"
            ),
            "{\"data\":{\"code\":200,\"message\":\"deleted 1 accounts\"}}".to_owned(),
        ]
    );
    assert_eq!(ours[2], "nats: Account Authentication Expired");
    assert_eq!(ours[3], "new user: false");
    assert!(
        dir.join("starling")
            .join(format!("{a}.jwt.deleted"))
            .exists()
    );
    server.shutdown().await;
    if NatsServer::installed() {
        let theirs_dir = dir.join("nats-server");
        std::fs::create_dir_all(&theirs_dir).unwrap();
        for entry in std::fs::read_dir(dir.join("starling")).unwrap() {
            let entry = entry.unwrap();
            let name = entry
                .file_name()
                .to_string_lossy()
                .replace(".jwt.deleted", ".jwt");
            std::fs::copy(entry.path(), theirs_dir.join(name)).unwrap();
        }
        let theirs_config = config.replace(
            &dir.join("starling").display().to_string(),
            &theirs_dir.display().to_string(),
        );
        let nats = NatsServer::start(&theirs_config, &[]).await;
        assert_eq!(
            deletes(nats.addr, &setup).await,
            ours,
            "nats-server differs"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Until the full resolver's lookups are answered from the cache side (the
/// route is up and the system account's interest has crossed it).
async fn until_lookups_cross(addr: SocketAddr, setup: &Setup) {
    let (_, sys_creds) = user(&setup.system);
    let admin = connect(addr, &sys_creds).await.expect("a system user");
    let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP", setup.a.public_key());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no lookup answered");
        let asked = timeout(
            Duration::from_millis(500),
            admin.request(subject.clone(), "".into()),
        );
        if let Ok(Ok(reply)) = asked.await
            && !reply.payload.is_empty()
        {
            return;
        }
    }
}

#[tokio::test]
async fn a_cache_resolver_looks_accounts_up_in_the_cluster() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the cache resolver test is skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("starling-cache-{}", std::process::id()));
    let setup = setup(&dir.join("full"));
    // Port 0: any free one.
    let route = |port: u16, routes: Option<u16>| {
        let routes = routes
            .map(|p| format!("routes: [\"nats://127.0.0.1:{p}\"]"))
            .unwrap_or_default();
        let port = if port == 0 {
            "-1".to_owned()
        } else {
            port.to_string()
        };
        format!("cluster {{ name: C, listen: \"127.0.0.1:{port}\", {routes} }}\n")
    };
    let cached = |name: &str| {
        let cache_dir = dir.join(name);
        std::fs::create_dir_all(&cache_dir).unwrap();
        let config = setup.config.replace(
            &format!("type: full, dir: \"{}\"", dir.join("full").display()),
            &format!("type: cache, dir: \"{}\"", cache_dir.display()),
        );
        (cache_dir, config)
    };
    let (_, a_creds) = user(&setup.a);
    // Starling's cache asks a nats-server full resolver.
    let full_port = starling_tests::nats_server::free_port();
    let full = NatsServer::start(&(setup.config.clone() + &route(full_port, None)), &[]).await;
    let (cache_dir, config) = cached("starling");
    let cache = start_from_config(&(config + &route(0, Some(full_port)))).await;
    until_lookups_cross(cache.client_addr(), &setup).await;
    assert!(
        connect(cache.client_addr(), &a_creds).await.is_some(),
        "A looked up"
    );
    assert!(
        cache_dir
            .join(format!("{}.jwt", setup.a.public_key()))
            .exists()
    );
    cache.shutdown().await;
    drop(full);
    // nats-server's cache asks Starling's full resolver.
    let full_port = starling_tests::nats_server::free_port();
    let full = start_from_config(&(setup.config.clone() + &route(full_port, None))).await;
    let (_, config) = cached("nats-server");
    let cache_port = starling_tests::nats_server::free_port();
    let cache = NatsServer::start(&(config + &route(cache_port, Some(full_port))), &[]).await;
    until_lookups_cross(cache.addr, &setup).await;
    assert!(
        connect(cache.addr, &a_creds).await.is_some(),
        "A looked up from Starling"
    );
    full.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PING: what came before the PONG, or the close.
async fn fenced(client: &mut starling_tests::RawClient) -> String {
    client.send(b"PING\r\n").await;
    let (bytes, closed) = client
        .read_until(b"PONG\r\n", Duration::from_secs(10))
        .await;
    let text = String::from_utf8_lossy(&bytes).replace("\r\n", " | ");
    if closed {
        format!("closed: {text}")
    } else {
        text
    }
}

/// Three users of A, then a claim update that lowers A's `conn` to 1:
/// what each saw (oldest first); then one that revokes them all.
async fn lowered(addr: SocketAddr, setup: &Setup) -> Vec<String> {
    let (_, sys_creds) = user(&setup.system);
    let admin = connect(addr, &sys_creds).await.expect("a system user");
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(raw_user(addr, &setup.a, "PING\r\n").await.1);
    }
    let update = |conn: i64, revoke: bool| {
        let limits = serde_json::json!({ "subs": -1, "data": -1, "payload": -1, "imports": -1,
            "exports": -1, "wildcards": true, "conn": conn, "leaf": -1 });
        let mut nats = serde_json::json!({ "type": "account", "version": 2, "limits": limits });
        if revoke {
            nats["revocations"] = serde_json::json!({ "*": 2_000_000_000_i64 });
        }
        jwt(&setup.operator, &setup.a.public_key(), "A", nats)
    };
    let mut seen = Vec::new();
    for (conn, revoke) in [(1, false), (-1, true)] {
        let reply = admin
            .request("$SYS.REQ.CLAIMS.UPDATE", update(conn, revoke).into())
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&reply.payload).contains("jwt updated"));
        let mut open = Vec::new();
        for mut client in clients {
            let text = fenced(&mut client).await;
            if !text.starts_with("closed") {
                open.push(client);
            }
            seen.push(text);
        }
        clients = open;
    }
    seen
}

#[tokio::test]
async fn claim_updates_close_what_they_no_longer_allow() {
    let dir = std::env::temp_dir().join(format!("starling-lowered-{}", std::process::id()));
    let setup = setup(&dir.join("starling"));
    let server = start_from_config(&setup.config).await;
    let ours = lowered(server.client_addr(), &setup).await;
    server.shutdown().await;
    assert_eq!(
        ours,
        [
            "closed: -ERR 'maximum account active connections exceeded' | ",
            "closed: -ERR 'maximum account active connections exceeded' | ",
            "PONG | ",
            "closed: -ERR 'User Authentication Revoked' | ",
        ]
    );
    if NatsServer::installed() {
        let theirs_dir = dir.join("nats-server");
        std::fs::create_dir_all(&theirs_dir).unwrap();
        // A as it was before the updates.
        std::fs::write(
            theirs_dir.join(format!("{}.jwt", setup.a.public_key())),
            account_jwt(&setup.operator, &setup.a, "A", None),
        )
        .unwrap();
        let config = setup.config.replace(
            &dir.join("starling").display().to_string(),
            &theirs_dir.display().to_string(),
        );
        let nats = NatsServer::start(&config, &[]).await;
        let mut theirs = lowered(nats.addr, &setup).await;
        // nats-server queues the error and closes at once: on a busy
        // machine the line may not reach the client. Starling sends it.
        for (their, our) in theirs.iter_mut().zip(&ours) {
            if their == "closed: " && our.starts_with("closed: -ERR") {
                their.clone_from(our);
            }
        }
        assert_eq!(theirs, ours, "nats-server differs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until a user of account A can log in at `addr` (its JWT reached
/// the server's directory by a periodic sync).
async fn until_synced(addr: SocketAddr, dir: &Path, setup: &Setup, creds: &str) {
    let file = dir.join(format!("{}.jwt", setup.a.public_key()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !file.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "A never reached {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(connect(addr, creds).await.is_some(), "A's user logs in");
}

#[tokio::test]
async fn full_resolvers_sync_their_directories() {
    let dir = std::env::temp_dir().join(format!("starling-sync-{}", std::process::id()));
    let setup = setup(&dir.join("has"));
    let (_, a_creds) = user(&setup.a);
    let with_dir = |name: &str, port: u16, routes: Option<u16>| {
        let own = dir.join(name);
        std::fs::create_dir_all(&own).unwrap();
        let routes = routes
            .map(|p| format!("routes: [\"nats://127.0.0.1:{p}\"]"))
            .unwrap_or_default();
        let config =
            setup.config.replace(
                &format!("type: full, dir: \"{}\" }}", dir.join("has").display()),
                &format!(
                    "type: full, dir: \"{}\", interval: \"200ms\" }}",
                    own.display()
                ),
            ) + &format!("cluster {{ name: C, listen: \"127.0.0.1:{port}\", {routes} }}\n");
        (own, config)
    };
    // Two Starlings: the empty one takes A from the other.
    std::fs::copy(
        dir.join("has")
            .join(format!("{}.jwt", setup.a.public_key())),
        dir.join("s1.jwt.tmp"),
    )
    .unwrap();
    let (p1, p2) = (
        starling_tests::nats_server::free_port(),
        starling_tests::nats_server::free_port(),
    );
    let (d1, c1) = with_dir("s1", p1, None);
    std::fs::rename(
        dir.join("s1.jwt.tmp"),
        d1.join(format!("{}.jwt", setup.a.public_key())),
    )
    .unwrap();
    let (d2, c2) = with_dir("s2", p2, Some(p1));
    let s1 = start_from_config(&c1).await;
    let s2 = start_from_config(&c2).await;
    assert!(
        connect(s2.client_addr(), &a_creds).await.is_none(),
        "not yet"
    );
    until_synced(s2.client_addr(), &d2, &setup, &a_creds).await;
    s2.shutdown().await;
    s1.shutdown().await;
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the mixed sync is skipped");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // nats-server holds A; Starling (empty) takes it.
    let (pn, ps) = (
        starling_tests::nats_server::free_port(),
        starling_tests::nats_server::free_port(),
    );
    let (dn, cn) = with_dir("n1", pn, None);
    std::fs::copy(
        d1.join(format!("{}.jwt", setup.a.public_key())),
        dn.join(format!("{}.jwt", setup.a.public_key())),
    )
    .unwrap();
    let nats = NatsServer::start(&cn, &[]).await;
    let (ds, cs) = with_dir("s3", ps, Some(pn));
    let star = start_from_config(&cs).await;
    until_synced(star.client_addr(), &ds, &setup, &a_creds).await;
    star.shutdown().await;
    drop(nats);
    // Starling holds A; nats-server (empty) takes it.
    let (pn, ps) = (
        starling_tests::nats_server::free_port(),
        starling_tests::nats_server::free_port(),
    );
    let (ds, cs) = with_dir("s4", ps, None);
    std::fs::copy(
        d1.join(format!("{}.jwt", setup.a.public_key())),
        ds.join(format!("{}.jwt", setup.a.public_key())),
    )
    .unwrap();
    let star = start_from_config(&cs).await;
    let (dn, cn) = with_dir("n2", pn, Some(ps));
    let nats = NatsServer::start(&cn, &[]).await;
    until_synced(nats.addr, &dn, &setup, &a_creds).await;
    drop(nats);
    star.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
