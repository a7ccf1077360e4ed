//! Starling inside an axum application: the broker serves NATS over
//! websocket on a route of the application's own HTTP server (`/nats`
//! here), behind whatever TLS, authentication or middleware the
//! application puts in front of it, next to its other routes.
//!
//! The route checks the upgrade request with
//! [`starling_ws::handshake::check_http`] (nats-server's checks and
//! refusals), answers `101`, and hands the upgraded connection to
//! [`Server::serve_connection`], which runs it exactly as a connection of
//! Starling's own websocket listener. nats-server has no such API.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//!
//! use starling_server::{Server, ServerOptions};
//! use starling_ws::handshake::HandshakePolicy;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Arc::new(Server::start(ServerOptions::default()).await?);
//! let app = embed_axum::router(Arc::clone(&server), HandshakePolicy::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::get;
use hyper_util::rt::TokioIo;
use starling_server::{Server, Transport};
use starling_ws::handshake::{HandshakePolicy, check_http};

/// What the NATS route needs: the broker and the upgrade policy.
#[derive(Debug, Clone)]
struct Nats {
    server: Arc<Server>,
    policy: Arc<HandshakePolicy>,
}

/// The application: NATS over websocket on `/nats`, and on `/` a page,
/// or NATS too when the request asks for a websocket (for clients that
/// cannot put a path in their URL, as async-nats 0.42 cannot). Serve it
/// with `into_make_service_with_connect_info::<SocketAddr>()` (the broker
/// sees each client's address).
pub fn router(server: Arc<Server>, policy: HandshakePolicy) -> Router {
    Router::new()
        .route("/nats", get(nats_route))
        .route("/", get(root))
        .with_state(Nats {
            server,
            policy: Arc::new(policy),
        })
}

async fn root(state: State<Nats>, peer: ConnectInfo<SocketAddr>, request: Request) -> Response {
    if request.headers().contains_key(axum::http::header::UPGRADE) {
        return nats_route(state, peer, request).await;
    }
    Response::new(Body::from(
        "An axum application; NATS over websocket is on /nats.\n",
    ))
}

/// The upgrade, then the broker takes the connection over.
async fn nats_route(
    State(nats): State<Nats>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let upgrade = match check_http(&request, &nats.policy) {
        Ok(upgrade) => upgrade,
        Err(error) => {
            tracing::debug!("{peer} - websocket handshake error: {error}");
            return error.http_response().map(Body::from);
        }
    };
    let response = upgrade.http_response().map(|()| Body::empty());
    let upgraded = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgraded.await {
            Ok(io) => {
                let io = TokioIo::new(io);
                let served = nats
                    .server
                    .serve_connection(io, peer, Transport::Websocket(upgrade));
                served.await;
            }
            Err(error) => tracing::debug!("{peer} - upgrade failed: {error}"),
        }
    });
    response
}
