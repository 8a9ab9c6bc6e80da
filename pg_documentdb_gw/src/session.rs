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
