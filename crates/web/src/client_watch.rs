//! Work stops when nobody waits for it. actix-web keeps polling a handler whose client has
//! closed the connection, and KPI evaluation runs scripts on blocking threads besides; so each
//! connection keeps a duplicate of its socket, and a request still running after a moment is
//! checked every quarter second: once the peer has closed its side, the request's future is
//! dropped. Dropping it cancels the request's script budget (`lodestar_script::Budget`), so runs
//! in progress stop within a few hundred operations, and no more queries are awaited. The
//! reply, which nobody reads, is a 499 in the log.
//!
//! A client that half-closes its side while waiting for the reply counts as gone; HTTP clients
//! do not do that.

use std::any::Any;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use futures_util::future::{Either, select};

/// How often a running request checks its client.
const EVERY: Duration = Duration::from_millis(250);

/// The status logged for a request whose client went away (nginx's "client closed request").
const CLIENT_CLOSED: u16 = 499;

/// A duplicate of the connection's socket, only ever peeked at.
#[derive(Clone)]
struct ClientSocket(Arc<TcpStream>);

/// `HttpServer::on_connect`: keep a duplicate of each TCP connection's socket.
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    #[cfg(unix)]
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        use std::os::fd::AsFd;
        // The duplicate shares the socket's non-blocking mode with the original.
        if let Ok(fd) = tcp.as_fd().try_clone_to_owned() {
            ext.insert(ClientSocket(Arc::new(TcpStream::from(fd))));
        }
    }
}

impl ClientSocket {
    /// The peer has closed its side (or the socket failed).
    fn gone(&self) -> bool {
        let mut byte = [0u8; 1];
        match self.0.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::Interrupted,
        }
    }

    async fn until_gone(self) {
        loop {
            actix_web::rt::time::sleep(EVERY).await;
            if self.gone() {
                return;
            }
        }
    }
}

/// Middleware: drop a request's work when its client has gone.
pub async fn watch(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(socket) = req.conn_data::<ClientSocket>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // The request itself cannot be kept: routing needs it unshared.
    let (method, path) = (req.method().clone(), req.path().to_owned());
    let work = Box::pin(next.call(req));
    match select(work, Box::pin(socket.until_gone())).await {
        Either::Left((res, _)) => Ok(res?.map_into_boxed_body()),
        Either::Right(((), _work)) => {
            tracing::info!(%method, %path, status = CLIENT_CLOSED, "client went away; its work is dropped");
            let status = StatusCode::from_u16(CLIENT_CLOSED).unwrap_or(StatusCode::BAD_REQUEST);
            Err(InternalError::new("the client closed the connection", status).into())
        }
    }
}
