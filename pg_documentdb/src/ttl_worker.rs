//! The TTL monitor: a background worker, registered when the library is in
//! `shared_preload_libraries`, that connects to `documentdb.ttl_database` and runs
//! `documentdb_api_internal.delete_expired_documents()` every
//! `documentdb.ttl_task_interval_seconds` (MongoDB's TTL monitor runs every 60 seconds).
//! No pg_cron: the worker is ours and restarts after an error.

use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use crate::gucs;

/// Registers the worker (from `_PG_init`, only while the postmaster preloads the library).
pub fn register() {
    // SAFETY: reading a postmaster global during library load.
    let preloading = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    if !preloading || !gucs::ttl_task_enabled() {
        return;
    }
    BackgroundWorkerBuilder::new("documentdb TTL monitor")
        .set_type("documentdb_ttl_monitor")
        .set_library("documentdb")
        .set_function("documentdb_ttl_monitor_main")
        .set_restart_time(Some(Duration::from_secs(10)))
        .enable_spi_access()
        .load();
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn documentdb_ttl_monitor_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = gucs::ttl_database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("documentdb TTL monitor started in database {database:?}");
    while BackgroundWorker::wait_latch(Some(gucs::ttl_task_interval())) {
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloading the configuration file in a background worker, as the
            // postmaster asks on SIGHUP.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // An error aborts the pass: the worker exits and the postmaster restarts it.
        let deleted = BackgroundWorker::transaction(|| {
            Spi::connect(|client| {
                let installed =
                    !client.select("SELECT 1 FROM pg_extension WHERE extname = 'documentdb'", None, &[])?.is_empty();
                if !installed {
                    return Ok::<_, pgrx::spi::Error>(0);
                }
                let n = client
                    .select("SELECT documentdb_api_internal.delete_expired_documents()", None, &[])?
                    .first()
                    .get_one::<i64>()?
                    .unwrap_or(0);
                Ok(n)
            })
        });
        match deleted {
            Ok(n) if n > 0 => log!("documentdb TTL monitor: deleted {n} expired documents"),
            Ok(_) => {}
            Err(e) => warning!("documentdb TTL monitor: {e}"),
        }
    }
}
