//! Per-client-connection state.

use std::net::SocketAddr;

use crate::compression::Compressor;
use crate::scram;

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
    pub mechanism: scram::Mechanism,
}

impl AuthenticatedUser {
    /// `user@db`, as MongoDB names users.
    pub fn qualified_name(&self) -> String {
        format!("{}@{}", self.name, self.db)
    }

    /// The `uid` half of this user's logical session ids.
    pub fn session_uid(&self) -> [u8; 32] {
        crate::logical_sessions::user_digest(&self.name, &self.db)
    }

    /// Acting on other users' sessions or operations takes a superuser or a role that can
    /// manage users; `what` names the action for the error ("list other users' sessions").
    pub fn require_manages_other_users(&self, what: &str) -> crate::error::CommandResult<()> {
        if self.manages_other_users {
            return Ok(());
        }
        Err(crate::error::CommandError::unauthorized(format!(
            "not authorized to {what} (requires a superuser or a role that can manage users)"
        )))
    }
}

#[derive(Debug)]
pub enum SaslStage {
    /// Server-first sent; waiting for the client proof.
    AwaitProof,
    /// Server-final sent without `done` (no skipEmptyExchange); waiting for an empty message.
    AwaitEmpty,
}

#[derive(Debug)]
pub struct SaslState {
    pub conversation: scram::Conversation,
    pub db: String,
    pub skip_empty_exchange: bool,
    pub stage: SaslStage,
}

#[derive(Debug)]
pub struct Session {
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

impl Session {
    pub fn new(connection_id: i64, peer: SocketAddr, tls: bool) -> Session {
        Session {
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
