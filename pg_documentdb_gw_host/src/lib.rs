//! Extension `documentdb_gw_host`: hosts the MongoDB wire gateway in a background worker.
//! Load it with `shared_preload_libraries = 'documentdb_gw_host'`; settings are GUCs in the
//! `documentdb_gateway.` namespace (Postmaster context: change them and restart).

use std::ffi::CString;
use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

::pgrx::pg_module_magic!(name, version);

static PORT: GucSetting<i32> = GucSetting::<i32>::new(10260);
static LISTEN_ADDRESS: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"127.0.0.1"));
static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));
static SOCKET_DIR: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static TLS_MODE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"allow"));
static TLS_CERT_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static TLS_KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static POOL_SIZE: GucSetting<i32> = GucSetting::<i32>::new(16);
static MAX_CONNECTIONS: GucSetting<i32> = GucSetting::<i32>::new(1000);
static ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);

fn define_gucs() {
    GucRegistry::define_bool_guc(
        c"documentdb_gateway.enabled",
        c"Start the MongoDB wire gateway background worker.",
        c"",
        &ENABLED,
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
            .load();
    }
}

/// Background worker entry point.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn documentdb_gateway_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // The main thread only waits on the latch; SIGTERM (pg_ctl stop) ends the loop at once.
    while BackgroundWorker::wait_latch(Some(Duration::from_millis(500))) {}
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn gateway_gucs_are_defined() {
        let port = Spi::get_one::<String>("SELECT current_setting('documentdb_gateway.port')").unwrap();
        assert_eq!(port.as_deref(), Some("10260"));
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'documentdb_gw_host'"]
    }
}
