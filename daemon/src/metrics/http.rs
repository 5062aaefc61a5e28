//! The metrics endpoint: `GET /metrics` (Prometheus text) and `GET
//! /healthz` over HTTP/1.1, served by `hyper` on a thread and a
//! single-threaded runtime of its own, so nothing an HTTP client does can
//! stall the server's UDP loops.
//!
//! hyper rather than a smaller crate: it is the most used HTTP
//! implementation in Rust, kept by the tokio project (already this
//! program's runtime), and it has the limits a listener on a network needs:
//! a deadline for request headers and a bounded read buffer. On top of
//! those, each connection has a lifetime limit and at most
//! [`MAX_CONNECTIONS`] are served at once (more are closed at accept), so
//! slow or hostile clients cost a bounded amount of memory and no thread.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tracing::{debug, info, warn};

use super::counters::Board;
use super::exposition::{Exposition, CONTENT_TYPE as METRICS_TYPE};

/// What an endpoint serves: the server's board, or a daemon's registry.
pub trait Source: Send + Sync + 'static {
    /// The metrics now, in the Prometheus text format.
    fn render(&self) -> String;
    /// `Err(why)` when `/healthz` must fail.
    fn health(&self) -> Result<(), &'static str>;
}

/// The server's metrics: its board, healthy while the registry thread beats.
struct ServerSource {
    exposition: Exposition,
    board: Arc<Board>,
}

impl Source for ServerSource {
    fn render(&self) -> String {
        self.exposition.render()
    }

    fn health(&self) -> Result<(), &'static str> {
        if self.board.alive(Instant::now(), HEALTHY_WITHIN) {
            Ok(())
        } else {
            Err("the registry thread has stalled\n")
        }
    }
}

/// Connections served at once; more are closed as soon as accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// Time a client has to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection, keep-alive included.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Bytes of request a connection may buffer (hyper's minimum).
pub const MAX_REQUEST: usize = 8192;
/// `/healthz` fails when the registry thread has shown no sign of life
/// for this long (it beats once a second).
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(10);

/// The running endpoint; [`MetricsServer::stop`] ends it.
#[derive(Debug)]
pub struct MetricsServer {
    local: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` (TCP) now, so that an error stops start-up, then serves
    /// `board` on a thread of its own.
    pub fn start(addr: SocketAddr, board: Arc<Board>) -> std::io::Result<Self> {
        let exposition = Exposition::new(board.clone());
        Self::serve(addr, Arc::new(ServerSource { exposition, board }))
    }

    /// Binds `addr` (TCP) now, then serves `source` on a thread of its own.
    pub fn serve(addr: SocketAddr, source: Arc<dyn Source>) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return warn!("metrics endpoint: {e}"),
                    };
                    tokio::select! {
                        () = serve(listener, source) => {}
                        _ = stopped => {}
                    }
                });
            })?;
        info!("metrics on http://{local}/metrics");
        Ok(Self {
            local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops serving and waits for the thread (open connections are cut).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                warn!("the metrics thread panicked");
            }
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve(listener: TcpListener, source: Arc<dyn Source>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_REQUEST)
        .keep_alive(true);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // e.g. EMFILE: wait a little rather than spin.
                debug!("metrics accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            debug!(%peer, "metrics: too many connections; closed");
            continue;
        };
        let source = source.clone();
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(move |req| {
                let response = respond(&req, source.as_ref());
                async move { Ok::<_, Infallible>(response) }
            }),
        );
        tokio::spawn(async move {
            match tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!(%peer, "metrics connection: {e}"),
                Err(_) => debug!(%peer, "metrics connection: lifetime over; closed"),
            }
            drop(permit);
        });
    }
}

fn respond(req: &Request<Incoming>, source: &dyn Source) -> Response<Full<Bytes>> {
    let (get, head) = (req.method() == Method::GET, req.method() == Method::HEAD);
    let path = req.uri().path();
    if !matches!(path, "/metrics" | "/healthz") {
        return text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics or /healthz\n",
        );
    }
    if !get && !head {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // hyper leaves out the body of a reply to HEAD.
    if path == "/metrics" {
        let mut r = Response::new(Full::new(Bytes::from(source.render())));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_TYPE));
        r
    } else {
        match source.health() {
            Ok(()) => text(StatusCode::OK, "ok\n"),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, why),
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
