//! Diagnostic commands the gateway answers itself: buildInfo, hostInfo, getParameter,
//! getCmdLineOpts, listCommands, connectionStatus, serverStatus, whatsmyuri.

use bson::{doc, Bson, Document, RawBsonRef};
use documentdb_errors::ErrorCode;

use super::{reply, CommandRequest, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::host;
use crate::protocol::MAX_BSON_OBJECT_SIZE;

pub const VERSION: &str = "7.0.0";

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

pub fn host_info() -> CommandResult<Vec<u8>> {
    let cores = std::thread::available_parallelism().map(|n| n.get() as i32).unwrap_or(1);
    reply(doc! {
        "system": {
            "currentTime": bson::DateTime::now(),
            "hostname": host::host_name(),
            "cpuAddrSize": 64,
            "memSizeMB": host::mem_size_mb(),
            "memLimitMB": host::mem_size_mb(),
            "numCores": cores,
            "numPhysicalCores": cores,
            "cpuArch": std::env::consts::ARCH,
            "numaEnabled": false,
        },
        "os": { "type": "Linux", "name": host::os_name() },
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
        "transactionLifetimeLimitSeconds": ctx.gw.transactions.lifetime().as_secs() as i64,
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

/// Parameters `setParameter` can change while running (mongod's names).
const SETTABLE: &[&str] = &["transactionLifetimeLimitSeconds"];

/// `setParameter`: changes a runtime parameter; the reply reports its previous value (`was`).
pub fn set_parameter(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let mut out = Document::new();
    for element in req.body.iter() {
        let (name, value) = element?;
        let name = name.as_str();
        // The command's own field and the generic arguments every command may carry.
        if name == "setParameter"
            || name.starts_with('$')
            || matches!(name, "lsid" | "txnNumber" | "comment" | "writeConcern" | "apiVersion" | "apiStrict")
        {
            continue;
        }
        if !SETTABLE.contains(&name) {
            return Err(CommandError::new(
                ErrorCode::InvalidOptions,
                format!("attempted to set unrecognized parameter [{name}], use help:true to see options"),
            ));
        }
        let seconds = match value {
            RawBsonRef::Int32(n) => i64::from(n),
            RawBsonRef::Int64(n) => n,
            RawBsonRef::Double(d) if d.fract() == 0.0 => d as i64,
            other => {
                return Err(CommandError::type_mismatch(format!(
                    "{name} must be a number, not {}",
                    documentdb_bson::type_name(other.element_type())
                )))
            }
        };
        if seconds < 1 {
            return Err(CommandError::bad_value(format!("{name} must be at least 1, got {seconds}")));
        }
        let was = ctx.gw.transactions.set_lifetime(seconds as u64);
        tracing::info!("setParameter: {name} = {seconds} (was {was})");
        out.insert("was", was as i64);
    }
    if out.is_empty() {
        return Err(CommandError::new(
            ErrorCode::InvalidOptions,
            "no option found to set, use help:true to see options",
        ));
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

/// connectionStatus: nothing before authentication; after it, the extension's answer for
/// the user (its roles, and its privileges with `showPrivileges`).
pub async fn connection_status(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    if ctx.connection.user.is_none() {
        let mut auth_info =
            doc! { "authenticatedUsers": Vec::<Bson>::new(), "authenticatedUserRoles": Vec::<Bson>::new() };
        if super::get_flag(&req.body, "showPrivileges")? {
            auth_info.insert("authenticatedUserPrivileges", Vec::<Bson>::new());
        }
        return reply(doc! { "authInfo": auth_info, "ok": 1.0 });
    }
    // The extension knows the PostgreSQL role, not how the client named its user: report
    // the names the client authenticated with.
    let status = super::sql_call::spec_only(ctx, req, crate::sql::CONNECTION_STATUS).await?;
    let mut status = Document::from_reader(status.as_slice())?;
    if let (Some(user), Ok(info)) = (&ctx.connection.user, status.get_document_mut("authInfo")) {
        info.insert(
            "authenticatedUsers",
            vec![Bson::Document(doc! { "user": user.name.as_str(), "db": user.db.as_str() })],
        );
    }
    reply(status)
}

pub fn server_status(ctx: &mut Ctx<'_>) -> CommandResult<Vec<u8>> {
    let gw = ctx.gw;
    let uptime = gw.started.elapsed();
    let current = gw.connections_current() as i64;
    let (pool_size, pool_available, pool_waiting) = gw.pool.status();
    let stats = &gw.transactions.stats;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let (started, committed, aborted) = (load(&stats.started), load(&stats.committed), load(&stats.aborted));
    let transactions_open = started.saturating_sub(committed + aborted);
    reply(doc! {
        "host": format!("{}:{}", host::host_name(), gw.config.port),
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
        "transactions": {
            "currentOpen": transactions_open as i64,
            "totalStarted": started as i64,
            "totalCommitted": committed as i64,
            "totalAborted": aborted as i64,
        },
        "postgres": {
            "heldByTransactionsAndSnapshots": gw.transactions.open_count() as i64,
            "poolSize": pool_size as i64,
            "poolAvailable": pool_available as i64,
            "poolWaiting": pool_waiting as i64,
        },
        "ok": 1.0,
    })
}

pub fn whats_my_uri(ctx: &Ctx<'_>) -> CommandResult<Vec<u8>> {
    reply(doc! { "you": ctx.connection.peer.to_string(), "ok": 1.0 })
}
