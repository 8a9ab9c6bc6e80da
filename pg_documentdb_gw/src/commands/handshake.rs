//! Commands the gateway answers itself: hello, buildInfo, getParameter, serverStatus, ...

use bson::{doc, Bson, Document, RawBsonRef};
use documentdb_errors::ErrorCode;

use super::{auth, reply, CommandRequest, Ctx};
use crate::compression::{self, Compressor};
use crate::error::{CommandError, CommandResult};
use crate::protocol::{MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE};

pub const VERSION: &str = "7.0.0";
pub const MAX_WIRE_VERSION: i32 = 21;
pub const MAX_WRITE_BATCH_SIZE: i32 = 100_000;
pub const SESSION_TIMEOUT_MINUTES: i32 = 30;

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
    match i32::try_from(ctx.session.connection_id) {
        Ok(id) => d.insert("connectionId", id),
        Err(_) => d.insert("connectionId", ctx.session.connection_id),
    };
    d.insert("minWireVersion", 0);
    d.insert("maxWireVersion", MAX_WIRE_VERSION);
    d.insert("readOnly", false);

    if let Some(RawBsonRef::Document(client)) = body.get("client")? {
        if let Ok(Some(RawBsonRef::Document(app))) = client.get("application") {
            if let Ok(Some(RawBsonRef::String(name))) = app.get("name") {
                ctx.session.app_name = Some(name.to_owned());
            }
        }
    }
    if let Some(RawBsonRef::Array(list)) = body.get("compression")? {
        let names: Vec<&str> = list.into_iter().filter_map(|v| v.ok().and_then(|v| v.as_str())).collect();
        ctx.session.compressors = compression::negotiate(names);
        if !ctx.session.compressors.is_empty() {
            let names: Vec<Bson> = ctx.session.compressors.iter().map(|c: &Compressor| Bson::from(c.name())).collect();
            d.insert("compression", names);
        }
    }
    if let Some(RawBsonRef::String(user)) = body.get("saslSupportedMechs")? {
        // "db.user": the mechanisms that user can authenticate with.
        let name = user.split_once('.').map(|(_, u)| u).unwrap_or(user);
        if let Ok(mechs) = auth::mechanisms_for_user(ctx.gw, name).await {
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

pub fn build_info() -> CommandResult<Vec<u8>> {
    reply(doc! {
        "version": VERSION,
        "gitVersion": format!("documentdb-gateway-{}", env!("CARGO_PKG_VERSION")),
        "versionArray": [7, 0, 0, 0],
        "bits": 64,
        "debug": cfg!(debug_assertions),
        "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE as i32,
        "storageEngines": ["documentdb"],
        "javascriptEngine": "none",
        "sysInfo": "deprecated",
        "allocator": "system",
        "modules": [],
        "openssl": { "running": "rustls", "compiled": "rustls" },
        "buildEnvironment": { "target_arch": std::env::consts::ARCH, "target_os": std::env::consts::OS },
        "ok": 1.0,
    })
}

fn mem_size_mb() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<i64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())))
        .unwrap_or_else(|| std::env::consts::OS.to_owned())
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

pub fn host_info() -> CommandResult<Vec<u8>> {
    let cores = std::thread::available_parallelism().map(|n| n.get() as i32).unwrap_or(1);
    reply(doc! {
        "system": {
            "currentTime": bson::DateTime::now(),
            "hostname": host_name(),
            "cpuAddrSize": 64,
            "memSizeMB": mem_size_mb(),
            "memLimitMB": mem_size_mb(),
            "numCores": cores,
            "numPhysicalCores": cores,
            "cpuArch": std::env::consts::ARCH,
            "numaEnabled": false,
        },
        "os": { "type": "Linux", "name": os_name() },
        "extra": {},
        "ok": 1.0,
    })
}

/// Server parameters getParameter knows.
fn parameters(ctx: &Ctx<'_>) -> Document {
    doc! {
        "featureCompatibilityVersion": { "version": "7.0" },
        "authenticationMechanisms": ["SCRAM-SHA-1", "SCRAM-SHA-256"],
        "cursorTimeoutMillis": ctx.gw.config.cursor_timeout.as_millis() as i64,
        "logLevel": 0,
        "quiet": false,
        "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE as i32,
        "tlsMode": match ctx.gw.config.tls_mode {
            crate::TlsMode::Disabled => "disabled",
            crate::TlsMode::Allow => "allowTLS",
            crate::TlsMode::Prefer => "preferTLS",
            crate::TlsMode::Require => "requireTLS",
        },
    }
}

pub fn get_parameter(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let all = parameters(ctx);
    let mut show_details = false;
    let mut want_all = false;
    match req.body.get("getParameter")? {
        Some(RawBsonRef::String("*")) => want_all = true,
        Some(RawBsonRef::Document(opts)) => {
            show_details = super::get_flag(opts, "showDetails")?;
            want_all = super::get_flag(opts, "allParameters")?;
        }
        _ => {}
    }
    let mut out = Document::new();
    for (name, value) in &all {
        let wanted = want_all || req.body.get(name)?.is_some();
        if wanted {
            let v = if show_details {
                Bson::Document(doc! { "value": value.clone(), "settableAtRuntime": false, "settableAtStartup": false })
            } else {
                value.clone()
            };
            out.insert(name.clone(), v);
        }
    }
    if out.is_empty() {
        return Err(CommandError::new(ErrorCode::InvalidOptions, "no option found to get"));
    }
    out.insert("ok", 1.0);
    reply(out)
}

pub fn get_cmd_line_opts(ctx: &mut Ctx<'_>) -> CommandResult<Vec<u8>> {
    let c = &ctx.gw.config;
    reply(doc! {
        "argv": ["documentdb-gateway"],
        "parsed": {
            "net": {
                "bindIp": c.listen_address.as_str(),
                "port": c.port as i32,
                "maxIncomingConnections": c.max_connections as i64,
                "tls": { "mode": format!("{:?}", c.tls_mode).to_lowercase() },
            },
            "postgresql": {
                "socketDir": c.pg_socket_dir.display().to_string(),
                "port": c.pg_port as i32,
                "database": c.database.as_str(),
                "poolSize": c.pool_size as i64,
            },
        },
        "ok": 1.0,
    })
}

pub fn list_commands(ctx: &Ctx<'_>) -> CommandResult<Vec<u8>> {
    let mut commands = Document::new();
    for c in super::available(ctx.gw) {
        let entry = doc! {
            "help": c.help,
            "requiresAuth": c.requires_auth,
            "secondaryOk": true,
            "adminOnly": c.admin_only,
            "apiVersions": [],
            "deprecatedApiVersions": [],
        };
        commands.insert(c.name, entry.clone());
        for alias in c.aliases {
            commands.insert(*alias, entry.clone());
        }
    }
    reply(doc! { "commands": commands, "ok": 1.0 })
}

pub fn connection_status(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let (users, roles) = match &ctx.session.user {
        Some(u) => (
            vec![Bson::Document(doc! { "user": u.name.as_str(), "db": u.db.as_str() })],
            u.roles.iter().map(|r| Bson::Document(doc! { "role": r.as_str(), "db": "admin" })).collect::<Vec<_>>(),
        ),
        None => (vec![], vec![]),
    };
    let mut auth_info = doc! { "authenticatedUsers": users, "authenticatedUserRoles": roles };
    if super::get_flag(&req.body, "showPrivileges")? {
        auth_info.insert("authenticatedUserPrivileges", Vec::<Bson>::new());
    }
    reply(doc! { "authInfo": auth_info, "ok": 1.0 })
}

pub fn server_status(ctx: &mut Ctx<'_>) -> CommandResult<Vec<u8>> {
    let gw = ctx.gw;
    let uptime = gw.started.elapsed();
    let current = gw.connections_current() as i64;
    let (pool_size, pool_available, pool_waiting) = gw.pool.status();
    reply(doc! {
        "host": format!("{}:{}", host_name(), gw.config.port),
        "version": VERSION,
        "process": "documentdb-gateway",
        "pid": std::process::id() as i64,
        "uptime": uptime.as_secs_f64().floor(),
        "uptimeMillis": uptime.as_millis() as i64,
        "uptimeEstimate": uptime.as_secs() as i64,
        "localTime": bson::DateTime::now(),
        "connections": {
            "current": current,
            "available": i64::try_from(gw.config.max_connections).unwrap_or(i64::MAX).saturating_sub(current).max(0),
            "totalCreated": gw.connections_total() as i64,
        },
        "metrics": {
            "cursor": {
                "open": {
                    "total": gw.cursors.len() as i64,
                    "pinned": gw.cursors.pinned_count() as i64,
                },
            },
        },
        "postgres": {
            "poolSize": pool_size as i64,
            "poolAvailable": pool_available as i64,
            "poolWaiting": pool_waiting as i64,
        },
        "ok": 1.0,
    })
}
