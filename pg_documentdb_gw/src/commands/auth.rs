//! Authentication commands: saslStart / saslContinue (and logout). The SCRAM exchange
//! itself is `documentdb_scram`'s; this is its glue to PostgreSQL and the connection:
//! SCRAM-SHA-256 keys come from PostgreSQL's own verifiers, SCRAM-SHA-1 keys from
//! `documentdb_api_catalog.scram_sha1_credentials`. Never logs payloads.

use bson::{doc, Binary, Bson, Document, RawBsonRef, RawDocument};
use documentdb_errors::ErrorCode;
use documentdb_scram::{Mechanism, ScramKeys};

use super::{ok, reply, CommandRequest, Ctx};
use crate::connection::{AuthenticatedUser, SaslStage, SaslState};
use crate::error::{CommandError, CommandResult};
use crate::gateway::Gateway;
use crate::sql;

const CONVERSATION_ID: i32 = 1;

fn binary(bytes: &[u8]) -> Bson {
    Bson::Binary(Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: bytes.to_vec() })
}

fn payload(spec: &RawDocument) -> CommandResult<&[u8]> {
    match spec.get("payload")? {
        Some(RawBsonRef::Binary(b)) => Ok(b.bytes),
        Some(RawBsonRef::String(s)) => Ok(s.as_bytes()),
        Some(_) => Err(CommandError::type_mismatch("payload must be BinData or a string")),
        None => Err(CommandError::bad_value("Missing required field 'payload'")),
    }
}

/// The login role of MongoDB user `user` of database `db`, and its SCRAM keys for
/// `mechanism`, read as the gateway's superuser.
async fn stored_keys(
    gw: &Gateway,
    mechanism: Mechanism,
    db: &str,
    user: &str,
) -> CommandResult<Option<(String, ScramKeys)>> {
    let conn = gw.pool.get(None, None).await?;
    let result = async {
        let role = match conn.query(sql::AUTHENTICATION_ROLE, &[&db, &user]).await {
            Ok(rows) => rows.first().and_then(|r| r.try_get::<_, Option<String>>(0).ok().flatten()),
            // No extension (yet): PostgreSQL's own roles authenticate on admin.
            Err(e) if e.kind == "postgres" && e.code == ErrorCode::CommandNotFound => {
                (db == "admin").then(|| user.to_owned())
            }
            Err(e) => return Err(e),
        };
        let Some(role) = role else { return Ok(None) };
        let keys = match mechanism {
            Mechanism::Sha256 => conn.query(sql::SCRAM_SHA256_VERIFIER, &[&role]).await.map(|rows| {
                rows.first()
                    .and_then(|r| r.try_get::<_, Option<String>>(0).ok().flatten())
                    .and_then(|text| documentdb_scram::parse_postgres_verifier(&text))
            })?,
            Mechanism::Sha1 => match conn.query(sql::SCRAM_SHA1_CREDENTIALS, &[&role]).await {
                Ok(rows) => rows.first().and_then(|r| {
                    let salt: String = r.try_get(0).ok()?;
                    let iterations: i32 = r.try_get(1).ok()?;
                    let stored: String = r.try_get(2).ok()?;
                    let server: String = r.try_get(3).ok()?;
                    ScramKeys::from_base64(&salt, iterations, &stored, &server)
                }),
                // No SHA-1 credentials table: SCRAM-SHA-1 simply has no users.
                Err(e) if e.kind == "postgres" && e.code == ErrorCode::NamespaceNotFound => None,
                Err(e) => return Err(e),
            },
        };
        Ok(keys.map(|k| (role, k)))
    }
    .await;
    conn.release();
    result
}

/// The SCRAM mechanisms user `user` of `db` can use (for hello's saslSupportedMechs).
pub async fn mechanisms_for_user(gw: &Gateway, db: &str, user: &str) -> CommandResult<Vec<Mechanism>> {
    let mut out = Vec::new();
    for m in [Mechanism::Sha256, Mechanism::Sha1] {
        if stored_keys(gw, m, db, user).await?.is_some() {
            out.push(m);
        }
    }
    Ok(out)
}

/// The actions `role` holds on the cluster resource (empty when they cannot be read: the
/// commands that need them then refuse, as for a user without them).
pub async fn cluster_actions(gw: &Gateway, role: &str) -> Vec<String> {
    let Ok(conn) = gw.pool.get(Some(role), None).await else {
        return Vec::new();
    };
    let actions = conn
        .query(sql::CLUSTER_ACTIONS, &[])
        .await
        .ok()
        .and_then(|rows| rows.first().and_then(|r| r.try_get::<_, Vec<String>>(0).ok()))
        .unwrap_or_default();
    conn.release();
    actions
}

/// Handles a saslStart (or hello's speculativeAuthenticate) and returns the reply fields
/// `{conversationId, done, payload}`.
pub async fn start_conversation(ctx: &mut Ctx<'_>, spec: &RawDocument, db: &str) -> CommandResult<Document> {
    ctx.connection.sasl = None;
    let mechanism_name = match spec.get("mechanism")? {
        Some(RawBsonRef::String(m)) => m,
        _ => return Err(CommandError::bad_value("Auth mechanism not specified")),
    };
    let Some(mechanism) = Mechanism::from_name(mechanism_name) else {
        return Err(CommandError::new(
            ErrorCode::MechanismUnavailable,
            format!("Received authentication for mechanism {mechanism_name} which is unknown or not enabled"),
        ));
    };
    let client_first = match documentdb_scram::parse_client_first(payload(spec)?) {
        Ok(cf) => cf,
        Err(e) => {
            // A malformed first message guesses no password: it is refused, not slowed.
            tracing::info!(conn = ctx.connection.connection_id, client = %ctx.connection.peer, "authentication failed: {e}");
            return Err(CommandError::auth_failed());
        }
    };
    let Some((role, keys)) = stored_keys(ctx.gw, mechanism, db, &client_first.username).await? else {
        tracing::info!(
            conn = ctx.connection.connection_id,
            client = %ctx.connection.peer,
            user = %client_first.username,
            db,
            mechanism = mechanism.name(),
            "authentication failed: no such user or no {} credentials",
            mechanism.name()
        );
        ctx.gw.auth_failures.record_failure(ctx.connection.peer.ip()).await;
        return Err(CommandError::auth_failed());
    };
    let skip_empty_exchange = match spec.get("options")? {
        Some(RawBsonRef::Document(o)) => super::get_flag(o, "skipEmptyExchange")?,
        _ => false,
    };
    let (server_first, conversation) =
        documentdb_scram::server_first(mechanism, &client_first, keys, &documentdb_scram::new_server_nonce());
    ctx.connection.sasl =
        Some(SaslState { conversation, db: db.to_owned(), role, skip_empty_exchange, stage: SaslStage::AwaitProof });
    Ok(doc! {
        "conversationId": CONVERSATION_ID,
        "done": false,
        "payload": binary(server_first.as_bytes()),
    })
}

pub async fn sasl_start(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let mut d = start_conversation(ctx, &req.body, &req.db).await?;
    d.insert("ok", 1.0);
    reply(d)
}

pub async fn sasl_continue(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let Some(state) = ctx.connection.sasl.take() else {
        return Err(CommandError::new(ErrorCode::ProtocolError, "No SASL session state found"));
    };
    match super::get_integer(&req.body, "conversationId") {
        Ok(Some(id)) if id == CONVERSATION_ID as i64 => {}
        _ => return Err(CommandError::new(ErrorCode::ProtocolError, "Mismatched SASL conversation id")),
    }
    let data = payload(&req.body)?;
    match state.stage {
        SaslStage::AwaitProof => {
            let server_final = match state.conversation.client_final(data) {
                Ok(f) => f,
                Err(e) => {
                    tracing::info!(
                        conn = ctx.connection.connection_id,
                        client = %ctx.connection.peer,
                        user = %state.conversation.username,
                        db = %state.db,
                        mechanism = state.conversation.mechanism.name(),
                        "authentication failed: {e}"
                    );
                    ctx.gw.auth_failures.record_failure(ctx.connection.peer.ip()).await;
                    return Err(CommandError::auth_failed());
                }
            };
            let name = state.conversation.username.clone();
            let privileges_epoch = ctx.gw.pool.role_epoch();
            let cluster_actions = cluster_actions(ctx.gw, &state.role).await;
            tracing::info!(
                conn = ctx.connection.connection_id,
                client = %ctx.connection.peer,
                user = %name,
                db = %state.db,
                mechanism = state.conversation.mechanism.name(),
                "authenticated"
            );
            ctx.gw.auth_failures.record_success(ctx.connection.peer.ip());
            ctx.connection.user = Some(AuthenticatedUser {
                name,
                db: state.db.clone(),
                role: state.role.clone(),
                cluster_actions,
                privileges_epoch,
                mechanism: state.conversation.mechanism,
            });
            let done = state.skip_empty_exchange;
            if !done {
                ctx.connection.sasl = Some(SaslState { stage: SaslStage::AwaitEmpty, ..state });
            }
            reply(doc! {
                "conversationId": CONVERSATION_ID,
                "done": done,
                "payload": binary(server_final.as_bytes()),
                "ok": 1.0,
            })
        }
        SaslStage::AwaitEmpty => reply(doc! {
            "conversationId": CONVERSATION_ID,
            "done": true,
            "payload": binary(b""),
            "ok": 1.0,
        }),
    }
}

/// Forgets the connection's user and any SASL exchange in progress.
pub fn logout(ctx: &mut Ctx<'_>) -> CommandResult<Vec<u8>> {
    ctx.connection.user = None;
    ctx.connection.sasl = None;
    reply(ok())
}
