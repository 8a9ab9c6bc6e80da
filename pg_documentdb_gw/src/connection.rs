//! The state of one client connection: its authenticated user, SASL exchange, negotiated
//! compressors and handshake facts.

use std::net::SocketAddr;

use documentdb_scram::{Conversation, Mechanism};

use crate::compression::Compressor;
use crate::error::{CommandError, CommandResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The PostgreSQL role the user is.
    pub name: String,
    /// The database the client authenticated against (`$db` of saslStart).
    pub db: String,
    /// Roles the user is a member of, for connectionStatus.
    pub roles: Vec<String>,
    /// May list and kill other users' logical sessions.
    pub manages_other_users: bool,
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

    /// Acting on other users' sessions or operations takes a superuser or a role that can
    /// manage users; `what` names the action for the error ("list other users' sessions").
    pub fn require_manages_other_users(&self, what: &str) -> CommandResult<()> {
        if self.manages_other_users {
            return Ok(());
        }
        Err(CommandError::unauthorized(format!(
            "not authorized to {what} (requires a superuser or a role that can manage users)"
        )))
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

    pub fn user_name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.name.as_str())
    }
}
