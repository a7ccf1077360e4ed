//! The brokers the client suites talk to: Starling's release binary from
//! one config template in several configurations (main, compression, wss,
//! origins, users, accounts), and the embedding example.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Client, ClientSuite, MAX_PAYLOAD, Transport, Workdir, install};
use crate::broker::{Broker, free_port, loopback};

/// The `users` broker: one user per connection type.
const USERS: &str = r#"authorization {
  users: [
    { user: tcp-user, password: secret, allowed_connection_types: ["STANDARD"] }
    { user: ws-user, password: secret, allowed_connection_types: ["WEBSOCKET"] }
  ]
}"#;

/// The `accounts` broker: ORDERS exports a stream and a service, SHOP
/// imports both under its own subjects.
const ACCOUNTS: &str = r#"accounts {
  ORDERS: {
    users: [ { user: orders, password: secret } ]
    exports: [ { stream: "orders.events.>" }, { service: "orders.lookup" } ]
  }
  SHOP: {
    users: [ { user: shop, password: secret } ]
    imports: [
      { stream: { account: ORDERS, subject: "orders.events.>" }, prefix: "shop" }
      { service: { account: ORDERS, subject: "orders.lookup" }, to: "lookup" }
    ]
  }
}
"#;

/// One broker of the suite, on a client port and a websocket port.
pub(super) struct Running {
    pub(super) broker: Broker,
    tcp: u16,
    ws: u16,
}

/// The brokers the client suites talk to, each from its own config file.
pub(super) struct Brokers {
    /// TCP + ws, max_payload 64 KB; restarted by the reconnect scenario.
    pub(super) main: Running,
    /// ws with `compression: true`, logging at debug level to see which
    /// connections negotiated permessage-deflate.
    compression: Running,
    pub(super) compression_log: PathBuf,
    /// wss with the suite's own CA.
    wss: Running,
    /// ws with `allowed_origins` naming the browser page's first origin.
    origins: Running,
    page_ports: [u16; 2],
    /// Users allowed only STANDARD or only WEBSOCKET connections.
    users: Running,
    /// Two accounts sharing a stream and a service.
    accounts: Running,
    /// The embedding example: a broker inside an axum application, NATS
    /// over websocket on its `/` and `/nats` routes.
    embedded: Running,
    /// A Starling hub with a leafnode port, and its leaf: nats-server when
    /// installed, else Starling.
    leaf_hub: Running,
    leaf_spoke: Running,
    /// Two cluster members: Starling, and nats-server when installed.
    cluster_a: Running,
    cluster_b: Running,
}

impl Brokers {
    pub(super) fn start(
        starling: &Path,
        embed: &Path,
        work: &Workdir,
        ready: &install::Ready,
    ) -> Result<Self, String> {
        let log = |name: &str| work.logs.join(format!("broker-{name}.log"));
        // Every broker: `listen` on a free port, `top` options, and a
        // websocket block on another free port with `websocket` options.
        let start = |name: &str, top: &str, websocket: &str, args: &[&str]| {
            let (tcp, ws) = (free_port()?, free_port()?);
            let _ = std::fs::remove_file(log(name));
            let text = format!(
                "listen: \"127.0.0.1:{tcp}\"\n{top}\nwebsocket {{\n  listen: \"127.0.0.1:{ws}\"\n{websocket}\n}}\n"
            );
            let broker = Broker::start(
                starling,
                work.dir.join(format!("{name}.conf")),
                &text,
                args,
                vec![loopback(tcp), loopback(ws)],
                Some(log(name)),
            )
            .map_err(|e| format!("broker {name}: {e}"))?;
            Ok::<_, String>(Running { broker, tcp, ws })
        };
        let max_payload = format!("max_payload: {MAX_PAYLOAD}");
        let page_ports = [free_port()?, free_port()?];
        let nats = std::process::Command::new("nats-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        // A Starling server and its peer: nats-server when installed.
        let pair = |name: &str, first: &str, second: &str| {
            let a = start(&format!("{name}-a"), first, "  no_tls: true", &[])?;
            let b = if nats {
                start_with(
                    Path::new("nats-server"),
                    work,
                    (&format!("{name}-b"), second, "  no_tls: true"),
                    &log(&format!("{name}-b")),
                )?
            } else {
                start(&format!("{name}-b"), second, "  no_tls: true", &[])?
            };
            Ok::<_, String>((a, b))
        };
        let leaf_port = free_port()?;
        let (leaf_hub, leaf_spoke) = pair(
            "leaf",
            &format!("server_name: HUB\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}"),
            &format!(
                "server_name: SPOKE\nleafnodes {{ remotes [ {{ url: \"nats://127.0.0.1:{leaf_port}\" }} ] }}"
            ),
        )?;
        let route_port = free_port()?;
        let (cluster_a, cluster_b) = pair(
            "cluster",
            &format!(
                "server_name: CA\ncluster {{ name: CONF, listen: \"127.0.0.1:{route_port}\" }}"
            ),
            &format!(
                "server_name: CB\ncluster {{ name: CONF, listen: \"127.0.0.1:-1\", routes: [\"nats://127.0.0.1:{route_port}\"] }}"
            ),
        )?;
        Ok(Self {
            main: start("main", &max_payload, "  no_tls: true", &[])?,
            compression: start(
                "compression",
                &max_payload,
                "  no_tls: true\n  compression: true",
                &["-D"],
            )?,
            compression_log: log("compression"),
            wss: start(
                "wss",
                &max_payload,
                &format!(
                    "  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n  }}",
                    ready.certs.cert.display(),
                    ready.certs.key.display()
                ),
                &[],
            )?,
            origins: start(
                "origins",
                &max_payload,
                &format!(
                    "  no_tls: true\n  allowed_origins: [\"http://127.0.0.1:{}\"]",
                    page_ports[0]
                ),
                &[],
            )?,
            page_ports,
            users: start("users", USERS, "  no_tls: true", &[])?,
            accounts: start("accounts", ACCOUNTS, "  no_tls: true", &[])?,
            embedded: start_embedded(embed, work, &log("embedded"))?,
            leaf_hub,
            leaf_spoke,
            cluster_a,
            cluster_b,
        })
    }

    /// The settings a client suite gets in `$CONFORMANCE`.
    pub(super) fn settings(&self, suite: ClientSuite, ready: &install::Ready) -> Value {
        let (url, users_url, accounts_url) = match suite.transport {
            Transport::Tcp => (
                format!("nats://127.0.0.1:{}", self.main.tcp),
                format!("nats://127.0.0.1:{}", self.users.tcp),
                format!("nats://127.0.0.1:{}", self.accounts.tcp),
            ),
            Transport::Ws | Transport::Embedded => (
                format!("ws://127.0.0.1:{}", self.main.ws),
                format!("ws://127.0.0.1:{}", self.users.ws),
                format!("ws://127.0.0.1:{}", self.accounts.ws),
            ),
        };
        let mut settings = json!({
            "transport": suite.transport.label(),
            "url": url,
            "users_url": users_url,
            "accounts_url": accounts_url,
            "compression_url": format!("ws://127.0.0.1:{}", self.compression.ws),
            // The certificate names 127.0.0.1 and localhost.
            "wss_url": format!("wss://localhost:{}", self.wss.ws),
            "origins_url": format!("ws://127.0.0.1:{}", self.origins.ws),
            "page_ports": self.page_ports,
            "ca_file": ready.certs.ca.display().to_string(),
            "chromium": install::CHROMIUM,
            "max_payload": MAX_PAYLOAD,
            "scenarios": suite.scenarios(),
        });
        let urls = |a: &Running, b: &Running| match suite.transport {
            Transport::Tcp => (
                format!("nats://127.0.0.1:{}", a.tcp),
                format!("nats://127.0.0.1:{}", b.tcp),
            ),
            Transport::Ws | Transport::Embedded => (
                format!("ws://127.0.0.1:{}", a.ws),
                format!("ws://127.0.0.1:{}", b.ws),
            ),
        };
        let (hub, spoke) = urls(&self.leaf_hub, &self.leaf_spoke);
        let (member_a, member_b) = urls(&self.cluster_a, &self.cluster_b);
        settings["cluster_a_url"] = json!(member_a);
        settings["cluster_b_url"] = json!(member_b);
        settings["leaf_hub_url"] = json!(hub);
        settings["leaf_spoke_url"] = json!(spoke);
        if suite.transport == Transport::Embedded {
            // async-nats puts no path in its websocket URL: it uses `/`,
            // which the example serves too; the browser uses `/nats`.
            let root = format!("ws://127.0.0.1:{}", self.embedded.ws);
            let url = match suite.client {
                Client::Browser => format!("{root}/nats"),
                _ => root,
            };
            settings["url"] = json!(url);
            settings["compression_url"] = json!(url);
        }
        settings
    }
}

/// Another server program (nats-server) from the same template: `listen`
/// on a free port, `top`, a websocket block with `websocket`.
fn start_with(
    program: &Path,
    work: &Workdir,
    (name, top, websocket): (&str, &str, &str),
    log: &Path,
) -> Result<Running, String> {
    let (tcp, ws) = (free_port()?, free_port()?);
    let _ = std::fs::remove_file(log);
    let text = format!(
        "listen: \"127.0.0.1:{tcp}\"\n{top}\nwebsocket {{\n  listen: \"127.0.0.1:{ws}\"\n{websocket}\n}}\n"
    );
    let broker = Broker::start(
        program,
        work.dir.join(format!("{name}.conf")),
        &text,
        &[],
        vec![loopback(tcp), loopback(ws)],
        Some(log.to_path_buf()),
    )
    .map_err(|e| format!("broker {name}: {e}"))?;
    Ok(Running { broker, tcp, ws })
}

/// The embedding example, started as a broker: its NATS port from a
/// config file, its HTTP port from `--http`.
fn start_embedded(embed: &Path, work: &Workdir, log: &Path) -> Result<Running, String> {
    let (tcp, ws) = (free_port()?, free_port()?);
    let _ = std::fs::remove_file(log);
    let http = format!("127.0.0.1:{ws}");
    let broker = Broker::start(
        embed,
        work.dir.join("embedded.conf"),
        &format!("listen: \"127.0.0.1:{tcp}\"\nmax_payload: {MAX_PAYLOAD}\n"),
        &["--http", &http],
        vec![loopback(tcp), loopback(ws)],
        Some(log.to_path_buf()),
    )
    .map_err(|e| format!("embedded broker: {e}"))?;
    Ok(Running { broker, tcp, ws })
}
