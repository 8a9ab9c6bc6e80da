//! The MongoDB wire-protocol gateway to documentdb (issue: gateway).
//!
//! Drivers speak OP_MSG (and the legacy OP_QUERY handshake) to this server; every data
//! command becomes one call of the matching `documentdb_api` SQL function, run over a pooled
//! unix-socket connection as the authenticated user (`SET ROLE`).
//!
//! Modules:
//! - [`protocol`], [`compression`]: wire frames, pure and unit-tested (and fuzzed).
//! - [`scram`]: SCRAM-SHA-1 / SCRAM-SHA-256 server side.
//! - [`commands`]: the command table and handlers; [`sql`]: every SQL statement sent.
//! - [`pg`]: raw bson parameters, the pool, per-connection role/timeout state.
//! - [`cursors`]: open cursors (continuations and pinned connections).
//! - [`server`]: listeners, TLS detection, connection tasks; [`tls`]: certificates.
//! - [`config`]: settings and the standalone binary's flags.

pub mod commands;
pub mod compression;
pub mod config;
pub mod cursors;
pub mod error;
pub mod failpoints;
pub mod logical_sessions;
pub mod pg;
pub mod pg_socket;
pub mod protocol;
pub mod scram;
pub mod server;
pub mod session;
pub mod sql;
pub mod tls;

pub use config::{Config, TlsMode};
pub use server::{run, start, GatewayHandle};

/// Logs to stderr (in the host extension, stderr is PostgreSQL's log). `RUST_LOG` overrides
/// the default level (info). Safe to call more than once.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(std::io::stderr).try_init();
}
