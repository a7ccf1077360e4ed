//! The leaf handshake's messages and checks, as nats-server 2.9.10 writes
//! and makes them (`leafnode.md` §2, §6): the accepting side's `INFO` (and
//! the second one that answers CONNECT), the soliciting side's `CONNECT`,
//! and the authentication of an accepted leaf.

use serde_json::{Map, Value, json};
use starling_auth::{AuthRequest, CertNames, ConnectionKind, passwords_match};

use crate::account::GLOBAL_ACCOUNT;
use crate::broker::Broker;
use crate::{NATS_VERSION, STARLING_VERSION};

/// The accepting side's `INFO` for connection `cid`: with `nonce` the
/// first one, else (`remote_account` set) the one that answers CONNECT;
/// `tls_verify` set when the link is TLS (and whether it verifies).
/// nats-server ends it with a space before CR LF.
pub(super) fn info(
    broker: &Broker,
    listen: (&str, u16),
    cid: u64,
    nonce: Option<&str>,
    remote_account: Option<&str>,
    tls_verify: Option<bool>,
) -> Vec<u8> {
    let (host, port) = listen;
    let url = format!("{host}:{port}");
    let mut info = Map::new();
    let mut put = |key: &str, value: Value| {
        info.insert(key.to_owned(), value);
    };
    put("server_id", json!(broker.info.server_id));
    put("server_name", json!(broker.info.server_name));
    put("version", json!(NATS_VERSION));
    put("proto", json!(1));
    put("go", json!(format!("starling {STARLING_VERSION}")));
    put("host", json!(host));
    put("port", json!(port));
    put("headers", json!(!broker.options.no_header_support));
    put("auth_required", json!(true));
    if let Some(verify) = tls_verify {
        put("tls_required", json!(true));
        if verify {
            put("tls_verify", json!(true));
        }
    }
    put("max_payload", json!(broker.live.max_payload()));
    put("ip", json!(url));
    put("client_id", json!(cid));
    if let Some(nonce) = nonce {
        put("nonce", json!(nonce));
    }
    if let Some(cluster) = &broker.cluster {
        put("cluster", json!(cluster.name().0));
    }
    put("info_on_connect", json!(true));
    if let Some(account) = remote_account {
        put("connect_info", json!(true));
        put("remote_account", json!(account));
    }
    // This server's, then its cluster's members' (so a leaf can fail over).
    let mut urls = vec![url];
    if let Some(cluster) = &broker.cluster {
        urls.extend(cluster.peer_leaf_urls());
    }
    put("leafnode_urls", json!(urls));
    let mut line = b"INFO ".to_vec();
    line.extend_from_slice(&serde_json::to_vec(&Value::Object(info)).unwrap_or_default());
    line.extend_from_slice(b" \r\n");
    line
}

/// The soliciting side's `CONNECT` (no `lang`: a peer that sees one takes
/// it for a client on the wrong port), with the URL's credentials.
pub(super) fn connect(
    broker: &Broker,
    (hub, deny_pub): (bool, &[String]),
    credentials: Option<(&str, &str)>,
    jwt: Option<(&str, String)>,
) -> Vec<u8> {
    let mut connect = Map::new();
    let mut put = |key: &str, value: Value| {
        connect.insert(key.to_owned(), value);
    };
    put("version", json!(NATS_VERSION));
    put("tls_required", json!(false));
    put("server_id", json!(broker.info.server_id));
    put("name", json!(broker.info.server_name));
    put("cluster", json!(broker.cluster_name()));
    put("headers", json!(!broker.options.no_header_support));
    if hub {
        put("is_hub", json!(true));
    }
    if !deny_pub.is_empty() {
        put("deny_pub", json!(deny_pub));
    }
    if let Some((jwt, sig)) = jwt {
        put("jwt", json!(jwt));
        put("sig", json!(sig));
    }
    if let Some((user, pass)) = credentials {
        put("user", json!(user));
        if !pass.is_empty() {
            put("pass", json!(pass));
        }
    }
    let mut line = b"CONNECT ".to_vec();
    line.extend_from_slice(&serde_json::to_vec(&Value::Object(connect)).unwrap_or_default());
    line.extend_from_slice(b"\r\n");
    line
}

/// Why an accepted leaf's CONNECT is refused: the `-ERR` text and whether
/// the link should be closed as an authentication failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// `Authorization Violation`.
    Unauthorized,
    /// A client on the leafnode port.
    WrongPort,
    /// The soliciting server has this server's cluster name.
    SameCluster,
    /// Not the JSON of a CONNECT.
    Malformed,
    /// Older than `min_version` (the text names it).
    TooOld(String),
}

impl Refusal {
    pub(super) fn text(&self) -> String {
        match self {
            Self::Unauthorized => "Authorization Violation".into(),
            Self::WrongPort => "attempted to connect to leaf node port".into(),
            Self::SameCluster => "remote leafnode has same cluster name".into(),
            Self::Malformed => "Protocol Violation".into(),
            Self::TooOld(min) => {
                format!("connection rejected since minimum version required is {min:?}")
            }
        }
    }
}

/// What an accepted leaf's CONNECT settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Accepted {
    /// The account the link is bound to.
    pub(super) account: String,
    /// The peer takes headers.
    pub(super) headers: bool,
    /// The peer plays the hub (`is_hub`): this side is its spoke.
    pub(super) peer_is_hub: bool,
    /// The peer's server name and cluster (duplicates are replaced).
    pub(super) name: String,
    pub(super) cluster: String,
}

/// Checks an accepted leaf's CONNECT (`json`) and authenticates it, as
/// nats-server does, with its newer servers' fix: a leaf needs credentials
/// whenever clients do. Blocking (bcrypt): run it on the blocking pool.
pub(super) fn accept_connect(
    broker: &Broker,
    json: &[u8],
    nonce: &str,
    (kind, certificate): (ConnectionKind, Option<&CertNames>),
    unix_now: i64,
) -> Result<Accepted, Refusal> {
    let connect: Value = serde_json::from_slice(json).map_err(|_| Refusal::Malformed)?;
    if !connect.is_object() {
        return Err(Refusal::Malformed);
    }
    let text = |key: &str| connect.get(key).and_then(Value::as_str);
    let flag = |key: &str| connect.get(key).and_then(Value::as_bool).unwrap_or(false);
    if connect.get("lang").is_some() {
        return Err(Refusal::WrongPort);
    }
    let account = authenticate(broker, &connect, nonce, (kind, certificate), unix_now)?;
    if text("cluster") == Some(broker.cluster_name().as_str()) {
        return Err(Refusal::SameCluster);
    }
    if let Some(min) = broker
        .options
        .leaf
        .as_ref()
        .and_then(|l| l.min_version.as_ref())
    {
        let theirs = text("version").and_then(crate::options::version_triplet);
        if theirs < crate::options::version_triplet(min) {
            return Err(Refusal::TooOld(min.clone()));
        }
    }
    Ok(Accepted {
        account: account.unwrap_or_else(|| GLOBAL_ACCOUNT.to_owned()),
        headers: flag("headers"),
        peer_is_hub: flag("is_hub"),
        name: text("name").unwrap_or_default().to_owned(),
        cluster: text("cluster").unwrap_or_default().to_owned(),
    })
}

/// The account an accepted leaf binds to (`None`: the global one).
fn authenticate(
    broker: &Broker,
    connect: &Value,
    nonce: &str,
    (kind, certificate): (ConnectionKind, Option<&CertNames>),
    unix_now: i64,
) -> Result<Option<String>, Refusal> {
    let text = |key: &str| connect.get(key).and_then(Value::as_str);
    let (mut user, pass) = (text("user"), text("pass").unwrap_or(""));
    // As reloaded last (a reload may change the port's `verify_and_map`).
    let current = broker.live.options();
    let leaf = current.leaf.as_ref();
    let leaf_auth = leaf.map(|leaf| &leaf.auth);
    let tls_map = leaf
        .and_then(|l| l.tls.as_ref())
        .is_some_and(|t| t.verify_and_map);
    if let Some(auth) = leaf_auth {
        // `verify_and_map` with `users`: the user is the one the
        // certificate names (its password, if any, must still match).
        if tls_map && auth.user.is_none() && !auth.users.is_empty() {
            let names = certificate.ok_or(Refusal::Unauthorized)?;
            let found = starling_auth::mapped(names, &auth.users, |u| &u.user, |_| true)
                .ok_or(Refusal::Unauthorized)?;
            user = Some(found.user.as_str());
        }
        if let Some((name, password)) = &auth.user {
            let ok = user == Some(name.as_str()) && passwords_match(password, pass);
            return ok
                .then(|| auth.account.clone())
                .ok_or(Refusal::Unauthorized);
        }
        if !auth.users.is_empty() {
            let found = auth
                .users
                .iter()
                .find(|u| Some(u.user.as_str()) == user)
                .ok_or(Refusal::Unauthorized)?;
            return passwords_match(&found.password, pass)
                .then(|| found.account.clone())
                .ok_or(Refusal::Unauthorized);
        }
    }
    let request = AuthRequest {
        kind: Some(kind),
        user,
        pass: text("pass"),
        token: text("auth_token"),
        nkey: text("nkey"),
        sig: text("sig"),
        nonce: nonce.as_bytes(),
        jwt: text("jwt"),
        now: unix_now,
        cookies: &[],
        certificate,
    };
    let identity = broker
        .auth()
        .authenticate(&request)
        .map_err(|_| Refusal::Unauthorized)?;
    let configured = leaf_auth.and_then(|auth| auth.account.clone());
    Ok(identity.account.or(configured))
}

/// What a soliciting side needs from the accepting side's first INFO:
/// its nonce and whether it answers CONNECT with an INFO. `None` when the
/// INFO is not a leafnode port's (no `client_id` or no `leafnode_urls`).
pub(super) fn hub_info(json: &[u8]) -> Option<HubInfo> {
    let info: Value = serde_json::from_slice(json).ok()?;
    let client_id = info.get("client_id").and_then(Value::as_u64).unwrap_or(0);
    let tls_required = info
        .get("tls_required")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let urls = info
        .get("leafnode_urls")
        .and_then(Value::as_array)
        .is_some_and(|urls| !urls.is_empty());
    if client_id == 0 || !urls {
        return None;
    }
    Some(HubInfo {
        info_on_connect: info
            .get("info_on_connect")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        headers: info
            .get("headers")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        name: info
            .get("server_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        cluster: info
            .get("cluster")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        tls_required,
        nonce: info
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

/// The accepting side as its first INFO describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HubInfo {
    pub(super) info_on_connect: bool,
    pub(super) headers: bool,
    pub(super) name: String,
    /// Its cluster name, if it has one.
    pub(super) cluster: String,
    /// The hub wants TLS on the leaf protocol.
    pub(super) tls_required: bool,
    /// What a credentials file's seed signs.
    pub(super) nonce: String,
}

/// Whether `json` is the INFO that answers CONNECT (`connect_info`).
pub(super) fn is_connect_info(json: &[u8]) -> bool {
    serde_json::from_slice::<Value>(json)
        .ok()
        .and_then(|info| info.get("connect_info").and_then(Value::as_bool))
        .unwrap_or(false)
}
