//! The MongoDB wire-protocol gateway to documentdb.
//!
//! Drivers speak OP_MSG (and the legacy OP_QUERY handshake) to this server; every data
//! command becomes one call of the matching `documentdb_api` SQL function, run over a pooled
//! unix-socket connection as the authenticated user (`SET ROLE`).
//!
//! Modules:
//! - [`protocol`], [`compression`]: wire frames, pure and unit-tested (and fuzzed).
//! - [`server`]: listeners, TLS detection, connection tasks, answering one message;
//!   [`tls`]: certificates.
//! - [`gateway`]: the state every connection shares; [`connection`]: one client connection.
//! - [`commands`]: the command table, dispatch and the handlers by command family;
//!   [`sql`]: every SQL statement sent. SCRAM itself is the `documentdb_scram` crate.
//! - [`cursor_store`], [`session_cache`], [`running_ops`]: open cursors, logical sessions
//!   and running operations, gateway-wide.
//! - [`pg`], [`pg_socket`]: raw bson parameters, the pool, per-connection role/timeout state.
//! - [`error`]: command errors and their replies; [`failpoints`]: `configureFailPoint`.
//! - [`cluster_time`]: the replica set's monotonic cluster time.
//! - [`auth_throttle`]: slows repeated authentication failures per client address.
//! - [`config`]: settings and the standalone binary's flags; [`host`]: facts about the host.

pub mod auth_throttle;
pub mod cluster_time;
pub mod commands;
pub mod compression;
pub mod config;
pub mod connection;
pub mod cursor_store;
pub mod error;
pub mod error_labels;
pub mod failpoints;
pub mod gateway;
pub mod host;
pub mod pg;
pub mod pg_socket;
pub mod protocol;
pub mod running_ops;
pub mod server;
pub mod session_cache;
pub mod sql;
#[cfg(test)]
mod test_support;
pub mod tls;
pub mod transactions;

pub use config::{Config, TlsMode};
pub use server::{run, start, GatewayHandle};

/// Logs to stderr (in the host extension, stderr is PostgreSQL's log). `RUST_LOG` overrides
/// the default level (info). Safe to call more than once.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(std::io::stderr).try_init();
}
