//! Extension `documentdb_gw_host`: hosts the MongoDB wire gateway in a background worker.
//! Load it with `shared_preload_libraries = 'documentdb_gw_host'`; settings are GUCs in the
//! `documentdb_gateway.` namespace (Postmaster context: change them and restart).

// pgrx glue: a background worker, and blocking signals for the gateway's threads.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

::pgrx::pg_module_magic!(name, version);

static PORT: GucSetting<i32> = GucSetting::<i32>::new(10260);
static LISTEN_ADDRESS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"127.0.0.1"));
static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));
static SOCKET_DIR: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static TLS_MODE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"allow"));
static TLS_CERT_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static TLS_KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static POOL_SIZE: GucSetting<i32> = GucSetting::<i32>::new(16);
static MAX_CONNECTIONS: GucSetting<i32> = GucSetting::<i32>::new(1000);
static ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
static ENABLE_TEST_COMMANDS: GucSetting<bool> = GucSetting::<bool>::new(false);
static AUTH_FAILURES_BEFORE_DELAY: GucSetting<i32> = GucSetting::<i32>::new(5);
static REPLICA_SET_NAME: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"rs0"));
static ADVERTISED_HOST: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static AUTH_FAILURE_DELAY_MS: GucSetting<i32> = GucSetting::<i32>::new(200);
static TRANSACTION_LIFETIME_LIMIT_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(60);

fn define_gucs() {
    GucRegistry::define_bool_guc(
        c"documentdb_gateway.enabled",
        c"Start the MongoDB wire gateway background worker.",
        c"",
        &ENABLED,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"documentdb_gateway.enable_test_commands",
        c"Answer test-only commands (configureFailPoint), like mongod's enableTestCommands.",
        c"Never enable in production: a client with access to the admin database could make the gateway fail commands.",
        &ENABLE_TEST_COMMANDS,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"documentdb_gateway.port",
        c"TCP port the gateway listens on.",
        c"",
        &PORT,
        1,
        65535,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"documentdb_gateway.listen_address",
        c"Address the gateway listens on.",
        c"",
        &LISTEN_ADDRESS,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"documentdb_gateway.database",
        c"PostgreSQL database holding the documentdb extension.",
        c"",
        &DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"documentdb_gateway.socket_dir",
        c"Directory of PostgreSQL's unix socket (default: the first unix_socket_directories entry).",
        c"",
        &SOCKET_DIR,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"documentdb_gateway.tls_mode",
        c"TLS mode: disabled, allow, prefer or require.",
        c"",
        &TLS_MODE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"documentdb_gateway.tls_cert_file",
        c"PEM certificate for TLS (a self-signed pair is generated when unset or missing).",
        c"",
        &TLS_CERT_FILE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"documentdb_gateway.tls_key_file",
        c"PEM private key for TLS.",
        c"",
        &TLS_KEY_FILE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"documentdb_gateway.pool_size",
        c"Connections the gateway keeps to PostgreSQL.",
        c"",
        &POOL_SIZE,
        1,
        1000,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"documentdb_gateway.max_connections",
        c"Maximum concurrent client connections to the gateway.",
        c"",
        &MAX_CONNECTIONS,
        1,
        100_000,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"documentdb_gateway.replica_set_name",
        c"The single-node replica set the gateway presents (empty: a standalone server).",
        c"",
        &REPLICA_SET_NAME,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"documentdb_gateway.advertised_host",
        c"The host:port the replica set's member list names (default: listen address and port).",
        c"",
        &ADVERTISED_HOST,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"documentdb_gateway.auth_failures_before_delay",
        c"Consecutive failed authentications from one client address answered without delay (0: never delay).",
        c"",
        &AUTH_FAILURES_BEFORE_DELAY,
        0,
        1_000_000,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"documentdb_gateway.auth_failure_delay_ms",
        c"Delay of the first failed authentication past those; doubles per further failure, at most 5 s.",
        c"",
        &AUTH_FAILURE_DELAY_MS,
        0,
        5_000,
        GucContext::Postmaster,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"documentdb_gateway.transaction_lifetime_limit_seconds",
        c"Multi-document transactions open longer than this are aborted (MongoDB's transactionLifetimeLimitSeconds).",
        c"",
        &TRANSACTION_LIFETIME_LIMIT_SECONDS,
        1,
        86_400,
        GucContext::Postmaster,
        GucFlags::UNIT_S,
    );
}

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    define_gucs();
    // SAFETY: reading a postmaster global during library load.
    let preloading = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    if preloading && ENABLED.get() {
        BackgroundWorkerBuilder::new("documentdb gateway")
            .set_type("documentdb_gateway")
            .set_library("documentdb_gw_host")
            .set_function("documentdb_gateway_main")
            .set_restart_time(Some(Duration::from_secs(5)))
            // A database connection, only to read the server's settings with SPI at startup
            // (starts the worker once recovery has finished).
            .enable_spi_access()
            .load();
    }
}

fn guc_string(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting.get().map(|s| s.to_string_lossy().into_owned()).filter(|s| !s.trim().is_empty())
}

/// Server settings the gateway needs, read on the main thread before any thread starts.
struct ServerSettings {
    port: u16,
    socket_dir: String,
    data_directory: PathBuf,
    superuser: String,
}

fn read_server_settings(database: &str) -> ServerSettings {
    BackgroundWorker::connect_worker_to_spi(Some(database), None);
    let get = |sql: &str| -> String {
        BackgroundWorker::transaction(|| Spi::get_one::<String>(sql)).ok().flatten().unwrap_or_default()
    };
    let port = get("SELECT current_setting('port')");
    let sockets = get("SELECT current_setting('unix_socket_directories')");
    let data_directory = PathBuf::from(get("SELECT current_setting('data_directory')"));
    let superuser = get("SELECT current_user::text");
    let socket_dir = sockets.split(',').map(str::trim).find(|s| !s.is_empty()).unwrap_or("").to_owned();
    ServerSettings { port: port.trim().parse().unwrap_or(5432), socket_dir, data_directory, superuser }
}

fn gateway_config() -> documentdb_gateway::Config {
    let database = guc_string(&DATABASE).unwrap_or_else(|| "postgres".into());
    let server = read_server_settings(&database);
    let socket_dir = guc_string(&SOCKET_DIR).unwrap_or(server.socket_dir);
    if socket_dir.is_empty() || socket_dir.starts_with('@') {
        error!(
            "documentdb gateway: no usable unix socket directory (set documentdb_gateway.socket_dir or \
             unix_socket_directories); the gateway only connects over the unix socket"
        );
    }
    // A relative socket directory is relative to the data directory.
    let socket_dir = if Path::new(&socket_dir).is_absolute() {
        PathBuf::from(socket_dir)
    } else {
        server.data_directory.join(socket_dir)
    };
    let tls_mode = guc_string(&TLS_MODE).unwrap_or_else(|| "allow".into());
    let tls_mode = match tls_mode.parse() {
        Ok(mode) => mode,
        Err(e) => error!("documentdb gateway: documentdb_gateway.tls_mode: {e}"),
    };
    documentdb_gateway::Config {
        listen_address: guc_string(&LISTEN_ADDRESS).unwrap_or_else(|| "127.0.0.1".into()),
        port: PORT.get() as u16,
        pg_socket_dir: socket_dir,
        pg_port: server.port,
        pg_user: server.superuser,
        database,
        tls_mode,
        tls_cert_file: guc_string(&TLS_CERT_FILE).map(PathBuf::from),
        tls_key_file: guc_string(&TLS_KEY_FILE).map(PathBuf::from),
        data_dir: Some(server.data_directory),
        pool_size: POOL_SIZE.get().max(1) as usize,
        max_connections: MAX_CONNECTIONS.get().max(1) as usize,
        enable_test_commands: ENABLE_TEST_COMMANDS.get(),
        auth_failures_before_delay: AUTH_FAILURES_BEFORE_DELAY.get().max(0) as u32,
        replica_set_name: guc_string(&REPLICA_SET_NAME).unwrap_or_default(),
        advertised_host: guc_string(&ADVERTISED_HOST).filter(|h| !h.is_empty()),
        auth_failure_delay: Duration::from_millis(AUTH_FAILURE_DELAY_MS.get().max(0) as u64),
        transaction_lifetime: Duration::from_secs(TRANSACTION_LIFETIME_LIMIT_SECONDS.get().max(1) as u64),
        ..documentdb_gateway::Config::default()
    }
}

/// The crate's only unsafe code: blocking signals for the threads the gateway spawns.
///
/// New threads inherit the signal mask of the thread that creates them. The main thread
/// blocks every signal, starts the gateway (its threads, and every thread they spawn, have
/// all signals blocked), then restores its own mask. So PostgreSQL's handlers (SIGTERM,
/// SIGHUP, SIGUSR1 latch wakeups, ...) always run on the main thread, which owns the latch.
mod signals {
    pub struct Blocked(libc::sigset_t);

    pub fn block_all() -> Blocked {
        // SAFETY: sigfillset and pthread_sigmask only write to the two sigset_t values we
        // own here and to this thread's signal mask; zeroed memory is a valid sigset_t.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
            Blocked(old)
        }
    }

    impl Drop for Blocked {
        fn drop(&mut self) {
            // SAFETY: restores the mask saved by `block_all` on this same thread.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
            }
        }
    }
}

/// Background worker entry point: starts the gateway on its own threads, then waits on the
/// latch until SIGTERM (or postmaster death) and shuts the gateway down.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn documentdb_gateway_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let config = gateway_config();
    documentdb_gateway::init_logging();
    let (port, address) = (config.port, config.listen_address.clone());
    let started = {
        let _blocked = signals::block_all();
        documentdb_gateway::start(config)
    };
    let handle = match started {
        Ok(handle) => handle,
        // Exits with status 1: the postmaster restarts the worker after the restart time.
        Err(e) => error!("documentdb gateway could not start: {e}"),
    };
    log!("documentdb gateway started on {address}:{port}");
    while BackgroundWorker::wait_latch(Some(Duration::from_millis(500))) {
        if handle.is_finished() {
            error!("documentdb gateway stopped unexpectedly; restarting the worker");
        }
    }
    handle.stop();
    log!("documentdb gateway stopped");
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    #[pg_test]
    fn gateway_gucs_are_defined() {
        let port = Spi::get_one::<String>("SELECT current_setting('documentdb_gateway.port')").unwrap();
        assert_eq!(port.as_deref(), Some("10288"));
        let mode = Spi::get_one::<String>("SELECT current_setting('documentdb_gateway.tls_mode')").unwrap();
        assert_eq!(mode.as_deref(), Some("allow"));
    }

    /// The background worker is up and answers a `ping` (no auth needed) over OP_MSG.
    #[pg_test]
    fn gateway_worker_answers_ping() {
        // {ping: 1, $db: "admin"}
        let mut body = vec![30, 0, 0, 0, 0x10];
        body.extend_from_slice(b"ping\0");
        body.extend_from_slice(&1i32.to_le_bytes());
        body.push(0x02);
        body.extend_from_slice(b"$db\0");
        body.extend_from_slice(&6i32.to_le_bytes());
        body.extend_from_slice(b"admin\0\0");
        let request = documentdb_gateway::protocol::encode_op_msg(1, 0, 0, &body, false);
        let mut last_error = String::new();
        for _ in 0..100 {
            match std::net::TcpStream::connect(("127.0.0.1", 10288)) {
                Ok(mut stream) => {
                    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    stream.write_all(&request).unwrap();
                    let mut header = [0u8; 16];
                    stream.read_exact(&mut header).unwrap();
                    let len = i32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
                    let mut reply = header.to_vec();
                    reply.resize(len, 0);
                    stream.read_exact(&mut reply[16..]).unwrap();
                    let frame = documentdb_gateway::protocol::parse_frame(&reply).unwrap();
                    assert_eq!(frame.header.response_to, 1);
                    let documentdb_gateway::protocol::Request::Msg(msg) = frame.request else {
                        panic!("expected an OP_MSG reply");
                    };
                    // {ok: 1.0, ...}: the replica set's $clusterTime and operationTime follow.
                    let mut ok = vec![0x01];
                    ok.extend_from_slice(b"ok\0");
                    ok.extend_from_slice(&1.0f64.to_le_bytes());
                    assert_eq!(msg.body.get(4..4 + ok.len()), Some(ok.as_slice()), "{:?}", msg.body);
                    return;
                }
                Err(e) => last_error = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the gateway never listened on 127.0.0.1:10288: {last_error}");
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        // Its own port, so the test cluster's gateway never collides with a dev cluster's.
        vec!["shared_preload_libraries = 'documentdb_gw_host'", "documentdb_gateway.port = 10288"]
    }
}
