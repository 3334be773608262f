//! Serving the exchange over HTTP/1.1, safe to leave open to a network: every connection must send
//! a request's headers within `header_timeout` (which also closes a keep-alive connection left
//! idle that long), a body the exchange reads must arrive within `body_timeout` (408), and a stop
//! stops accepting, lets the requests in flight finish for up to `shutdown_grace`, then closes
//! whatever is left.
//!
//! `axum::serve` has no header or body timeout and waits for every connection to close on a stop,
//! so the exchange runs its own accept loop on hyper's HTTP/1 connection (with a timer). Bodies over
//! the limit are refused by the extractors (`error::MAX_BODY`, 413).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::serve::Listener;
use axum::{BoxError, Router};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Sleep;

/// How long the exchange waits for its clients, and for itself when it stops.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The longest a connection may take to send a request's headers, counted from when the
    /// exchange starts waiting for them: a new connection, or the end of the previous response
    /// (so it is also how long an idle keep-alive connection is kept).
    pub header: Duration,
    /// The longest the exchange waits for a request body it reads, from when it first has to
    /// wait for it: past it the request is answered 408 and the connection closed.
    pub body: Duration,
    /// On a stop, how long requests in flight may take to finish before their connections are
    /// closed.
    pub shutdown_grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// How a stop went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Connections still busy when the grace ran out, closed with their requests unanswered.
    pub cut: usize,
}

/// The error a request body gives when it did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs_f64())]
pub struct BodyTimedOut(pub Duration);

/// A request body that fails with [`BodyTimedOut`] once the reader has waited `timeout` for it in
/// all. The clock starts the first time a read has to wait, so a body already received costs no
/// timer.
pub struct ReadDeadline<B> {
    inner: B,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<B> ReadDeadline<B> {
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
        }
    }
}

impl<B> hyper::body::Body for ReadDeadline<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The router as hyper's service: each request's body under the body timeout.
#[derive(Clone)]
struct Exchange {
    app: Router,
    body_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for Exchange {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let timeout = self.body_timeout;
        let request = request.map(|body| Body::new(ReadDeadline::new(body, timeout)));
        // A router is always ready: no poll_ready needed.
        tower::Service::call(&mut self.app.clone(), request)
    }
}

/// Serve `app` on `listener` until `stop` says so (a dropped sender is not a request to stop).
pub(crate) async fn serve(
    mut listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    stop: oneshot::Receiver<()>,
) -> Stopped {
    let service = Exchange {
        app,
        body_timeout: timeouts.body,
    };
    let (stopping, stop_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    let stop = async move {
        if stop.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            // Finished connections are collected as they end, so the set holds only live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            // axum's accept retries by itself: a connection error is skipped, and running out of
            // file descriptors waits a second.
            (stream, _) = Listener::accept(&mut listener) => {
                connections.spawn(connection(stream, service.clone(), timeouts.header, stop_seen.clone()));
            }
        }
    }
    // Refuse new connections from now on.
    drop(listener);
    let _ = stopping.send(true);
    let drained = tokio::time::timeout(timeouts.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => Stopped::default(),
        Err(_) => {
            let cut = connections.len();
            connections.shutdown().await;
            Stopped { cut }
        }
    }
}

/// One connection: requests served until the client closes it, a timeout, or a stop (which lets
/// the request in flight finish, then closes).
async fn connection(
    stream: TcpStream,
    service: Exchange,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    // Responses are written whole; no reason to hold the last segment back.
    let _ = stream.set_nodelay(true);
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        // Errors (a reset, a timeout, a malformed request) end the connection, nothing more.
        _ = conn.as_mut() => return,
        // A closed channel means the server is gone: stop too.
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
