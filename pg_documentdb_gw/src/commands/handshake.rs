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

/// The electionId of the set's only member (its one election, term 1).
const ELECTION_ID: [u8; 12] = [0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1];

/// A single-node replica set's primary: itself the whole set, writable, term 1.
fn replica_set_fields(gw: &crate::gateway::Gateway, d: &mut Document) {
    let member = gw.config.member_host();
    let now = gw.clock.now();
    let date = bson::DateTime::from_millis(i64::from(now.time) * 1000);
    let op_time = bson::doc! { "ts": now, "t": 1_i64 };
    d.insert("setName", gw.config.replica_set_name.as_str());
    d.insert("setVersion", 1);
    d.insert("hosts", vec![Bson::from(member.as_str())]);
    d.insert("primary", member.as_str());
    d.insert("me", member.as_str());
    d.insert("secondary", false);
    d.insert("topologyVersion", bson::doc! { "processId": gw.process_id, "counter": 0_i64 });
    d.insert(
        "lastWrite",
        bson::doc! { "opTime": op_time.clone(), "lastWriteDate": date, "majorityOpTime": op_time, "majorityWriteDate": date },
    );
    d.insert("electionId", bson::oid::ObjectId::from_bytes(ELECTION_ID));
}

/// `replSetGetStatus`: the one member, primary and healthy.
pub fn repl_set_get_status(ctx: &Ctx<'_>) -> CommandResult<Vec<u8>> {
    let gw = ctx.gw;
    not_a_replica_set(gw)?;
    let now = gw.clock.now();
    let date = bson::DateTime::from_millis(i64::from(now.time) * 1000);
    let op_time = bson::doc! { "ts": now, "t": 1_i64 };
    let started =
        bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() - gw.started.elapsed().as_millis() as i64);
    reply(bson::doc! {
        "set": gw.config.replica_set_name.as_str(),
        "date": bson::DateTime::now(),
        "myState": 1,
        "term": 1_i64,
        "heartbeatIntervalMillis": 2000_i64,
        "majorityVoteCount": 1,
        "writeMajorityCount": 1,
        "votingMembersCount": 1,
        "writableVotingMembersCount": 1,
        "optimes": { "lastCommittedOpTime": op_time.clone(), "appliedOpTime": op_time.clone(), "durableOpTime": op_time.clone() },
        "members": [{
            "_id": 0,
            "name": gw.config.member_host(),
            "health": 1.0,
            "state": 1,
            "stateStr": "PRIMARY",
            "uptime": gw.started.elapsed().as_secs() as i64,
            "optime": op_time,
            "optimeDate": date,
            "electionDate": started,
            "configVersion": 1,
            "configTerm": 1_i64,
            "self": true,
        }],
        "ok": 1.0,
    })
}

/// `replSetGetConfig`: a one-member configuration.
pub fn repl_set_get_config(ctx: &Ctx<'_>) -> CommandResult<Vec<u8>> {
    let gw = ctx.gw;
    not_a_replica_set(gw)?;
    reply(bson::doc! {
        "config": {
            "_id": gw.config.replica_set_name.as_str(),
            "version": 1,
            "term": 1_i64,
            "protocolVersion": 1_i64,
            "writeConcernMajorityJournalDefault": true,
            "members": [{
                "_id": 0, "host": gw.config.member_host(), "arbiterOnly": false, "buildIndexes": true,
                "hidden": false, "priority": 1.0, "tags": {}, "secondaryDelaySecs": 0_i64, "votes": 1,
            }],
            "settings": { "chainingAllowed": true, "heartbeatIntervalMillis": 2000, "electionTimeoutMillis": 10000 },
        },
        "ok": 1.0,
    })
}

/// MongoDB's answer to replSet commands on a standalone server.
fn not_a_replica_set(gw: &crate::gateway::Gateway) -> CommandResult<()> {
    if gw.config.is_replica_set() {
        return Ok(());
    }
    Err(crate::error::CommandError::new(documentdb_errors::ErrorCode::new(76), "not running with --replSet"))
}

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
    if ctx.gw.config.is_replica_set() {
        replica_set_fields(ctx.gw, &mut d);
    }

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
