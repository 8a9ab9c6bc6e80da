//! The state of one client connection: its authenticated user, SASL exchange, negotiated
//! compressors and handshake facts.

use std::net::SocketAddr;

use documentdb_scram::{Conversation, Mechanism};

use crate::compression::Compressor;
use crate::error::{CommandError, CommandResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The MongoDB user name.
    pub name: String,
    /// Its authentication database (`$db` of saslStart: `authSource`).
    pub db: String,
    /// The PostgreSQL login role the user is (commands run as it).
    pub role: String,
    /// The actions the user holds on the cluster resource (serverStatus, inprog, killop,
    /// killAnySession ...), read from the extension at login and again whenever users or
    /// roles change through this gateway (`privileges_epoch`).
    pub cluster_actions: Vec<String>,
    /// The pool's role epoch `cluster_actions` was read at.
    pub privileges_epoch: u64,
    pub mechanism: Mechanism,
}

impl AuthenticatedUser {
    /// `user@db`, as MongoDB names users.
    pub fn qualified_name(&self) -> String {
        format!("{}@{}", self.name, self.db)
    }

    /// The `uid` half of this user's logical session ids.
    pub fn session_uid(&self) -> [u8; 32] {
        crate::session_cache::user_digest(&self.name, &self.db)
    }

    pub fn has_cluster_action(&self, action: &str) -> bool {
        self.cluster_actions.iter().any(|a| a == action)
    }

    /// MongoDB's 13 Unauthorized unless the user holds `action` on the cluster; `command`
    /// and `db` name what was refused, as MongoDB's message does.
    pub fn require_cluster_action(&self, action: &str, command: &str, db: &str) -> CommandResult<()> {
        if self.has_cluster_action(action) {
            return Ok(());
        }
        Err(CommandError::unauthorized(format!("not authorized on {db} to execute command {{ {command}: 1 }}")))
    }
}

/// Where a SASL exchange (saslStart, then saslContinue) stands.
#[derive(Debug)]
pub enum SaslStage {
    /// Server-first sent; waiting for the client proof.
    AwaitProof,
    /// Server-final sent without `done` (no skipEmptyExchange); waiting for an empty message.
    AwaitEmpty,
}

/// A SASL exchange in progress on this connection.
#[derive(Debug)]
pub struct SaslState {
    pub conversation: Conversation,
    pub db: String,
    /// The login role the user authenticates as.
    pub role: String,
    pub skip_empty_exchange: bool,
    pub stage: SaslStage,
}

/// One client connection (not a logical session: those are in [`crate::session_cache`]).
#[derive(Debug)]
pub struct ClientConnection {
    pub connection_id: i64,
    pub peer: SocketAddr,
    pub tls: bool,
    pub user: Option<AuthenticatedUser>,
    pub sasl: Option<SaslState>,
    /// Compressors negotiated in `hello`.
    pub compressors: Vec<Compressor>,
    /// `client.application.name` from the handshake (fail points can select on it).
    pub app_name: Option<String>,
    /// Set when the connection must close without answering (a `closeConnection` fail point).
    pub close_requested: bool,
}

impl ClientConnection {
    pub fn new(connection_id: i64, peer: SocketAddr, tls: bool) -> ClientConnection {
        ClientConnection {
            connection_id,
            peer,
            tls,
            user: None,
            sasl: None,
            compressors: Vec::new(),
            app_name: None,
            close_requested: false,
        }
    }

    /// The PostgreSQL role commands run as (`None` before authentication).
    pub fn pg_role(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.role.as_str())
    }
}
