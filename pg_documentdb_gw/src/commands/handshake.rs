//! The connection handshake: `hello` (and its legacy form `isMaster`), which describes the
//! server, negotiates compression, names the user's SASL mechanisms and may start the
//! authentication (speculativeAuthenticate).

use bson::{Bson, Document, RawBsonRef};

use super::{auth, reply, CommandRequest, Ctx};
use crate::compression::{self, Compressor};
use crate::error::CommandResult;
use crate::protocol::{MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE};
use crate::session_cache::SESSION_TIMEOUT_MINUTES;

pub const MAX_WIRE_VERSION: i32 = 21;
pub const MAX_WRITE_BATCH_SIZE: i32 = 100_000;

pub async fn hello(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let body = &req.body;
    let mut d = Document::new();
    if req.name == "hello" {
        d.insert("isWritablePrimary", true);
    } else {
        d.insert("ismaster", true);
    }
    if super::get_flag(body, "helloOk")? {
        d.insert("helloOk", true);
    }
    d.insert("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE as i32);
    d.insert("maxMessageSizeBytes", MAX_MESSAGE_SIZE as i32);
    d.insert("maxWriteBatchSize", MAX_WRITE_BATCH_SIZE);
    d.insert("localTime", bson::DateTime::now());
    d.insert("logicalSessionTimeoutMinutes", SESSION_TIMEOUT_MINUTES);
    match i32::try_from(ctx.connection.connection_id) {
        Ok(id) => d.insert("connectionId", id),
        Err(_) => d.insert("connectionId", ctx.connection.connection_id),
    };
    d.insert("minWireVersion", 0);
    d.insert("maxWireVersion", MAX_WIRE_VERSION);
    d.insert("readOnly", false);

    if let Some(RawBsonRef::Document(client)) = body.get("client")? {
        if let Ok(Some(RawBsonRef::Document(app))) = client.get("application") {
            if let Ok(Some(RawBsonRef::String(name))) = app.get("name") {
                ctx.connection.app_name = Some(name.to_owned());
            }
        }
    }
    if let Some(RawBsonRef::Array(list)) = body.get("compression")? {
        let names: Vec<&str> = list.into_iter().filter_map(|v| v.ok().and_then(|v| v.as_str())).collect();
        ctx.connection.compressors = compression::negotiate(names);
        if !ctx.connection.compressors.is_empty() {
            let names: Vec<Bson> =
                ctx.connection.compressors.iter().map(|c: &Compressor| Bson::from(c.name())).collect();
            d.insert("compression", names);
        }
    }
    if let Some(RawBsonRef::String(user)) = body.get("saslSupportedMechs")? {
        // "db.user": the mechanisms that user of that database can authenticate with.
        let (db, name) = user.split_once('.').unwrap_or(("admin", user));
        if let Ok(mechs) = auth::mechanisms_for_user(ctx.gw, db, name).await {
            if !mechs.is_empty() {
                d.insert("saslSupportedMechs", mechs.iter().map(|m| Bson::from(m.name())).collect::<Vec<_>>());
            }
        }
    }
    if let Some(RawBsonRef::Document(spec)) = body.get("speculativeAuthenticate")? {
        // A saslStart folded into the handshake; on failure the driver authenticates normally.
        let db = match spec.get("db") {
            Ok(Some(RawBsonRef::String(db))) => db.to_owned(),
            _ => req.db.clone(),
        };
        if let Ok(first) = auth::start_conversation(ctx, spec, &db).await {
            d.insert("speculativeAuthenticate", first);
        }
    }
    d.insert("ok", 1.0);
    reply(d)
}
