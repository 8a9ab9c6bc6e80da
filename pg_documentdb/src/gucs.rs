//! Settings of the documentdb extension (`documentdb.*`).

use std::ffi::{CStr, CString};
use std::time::Duration;

use pgrx::{pg_sys, GucContext, GucFlags, GucRegistry, GucSetting};

static CURSOR_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(600_000);
static TTL_TASK_ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
static TTL_TASK_INTERVAL_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(60);
static SCRAM_SHA256_ITERATIONS: GucSetting<i32> = GucSetting::<i32>::new(15_000);
static SCRAM_SHA1_ITERATIONS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static TTL_DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));

pub fn define() {
    GucRegistry::define_int_guc(
        c"documentdb.cursor_timeout_ms",
        c"Idle time after which a cursor held open in a session expires (MongoDB's cursorTimeoutMillis).",
        c"",
        &CURSOR_TIMEOUT_MS,
        1_000,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    // MongoDB's scramSHA256IterationCount and scramIterationCount, with their defaults and
    // minimums; they apply to passwords set from then on.
    GucRegistry::define_int_guc(
        c"documentdb.scram_sha256_iteration_count",
        c"PBKDF2 iterations of the SCRAM-SHA-256 credentials createUser/updateUser store.",
        c"",
        &SCRAM_SHA256_ITERATIONS,
        5_000,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"documentdb.scram_sha1_iteration_count",
        c"PBKDF2 iterations of the SCRAM-SHA-1 credentials createUser/updateUser store.",
        c"",
        &SCRAM_SHA1_ITERATIONS,
        5_000,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    // PostgreSQL accepts postmaster-level settings only while the library is preloaded (the
    // TTL monitor exists only then); loaded later by CREATE EXTENSION, they are not defined.
    // SAFETY: reading a postmaster global during library load.
    if !unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    GucRegistry::define_bool_guc(
        c"documentdb.enable_ttl_task",
        c"Run the TTL monitor (a background worker; needs documentdb in shared_preload_libraries).",
        c"",
        &TTL_TASK_ENABLED,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"documentdb.ttl_task_interval_seconds",
        c"Seconds between two passes of the TTL monitor (MongoDB's ttlMonitorSleepSecs).",
        c"",
        &TTL_TASK_INTERVAL_SECONDS,
        1,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"documentdb.ttl_database",
        c"The database whose TTL indexes the TTL monitor maintains.",
        c"",
        &TTL_DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
}

pub fn cursor_timeout_ms() -> u64 {
    u64::try_from(CURSOR_TIMEOUT_MS.get()).unwrap_or(600_000)
}

pub fn scram_sha256_iterations() -> u32 {
    u32::try_from(SCRAM_SHA256_ITERATIONS.get()).unwrap_or(15_000)
}

pub fn scram_sha1_iterations() -> u32 {
    u32::try_from(SCRAM_SHA1_ITERATIONS.get()).unwrap_or(10_000)
}

pub fn ttl_task_enabled() -> bool {
    TTL_TASK_ENABLED.get()
}

pub fn ttl_task_interval() -> Duration {
    Duration::from_secs(u64::try_from(TTL_TASK_INTERVAL_SECONDS.get()).unwrap_or(60))
}

pub fn ttl_database() -> String {
    TTL_DATABASE
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres".into())
}

/// Runs `f` with the setting `name` = `value`, restored afterwards (as a function's `SET`
/// clause: a GUC nest level, popped on the normal path here and by the (sub)transaction
/// abort on an error).
pub fn with_setting<T>(name: &CStr, value: &CStr, f: impl FnOnce() -> T) -> T {
    // SAFETY: a nest level opened here and closed below; both strings are NUL-terminated.
    let nest_level = unsafe {
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        level
    };
    let result = f();
    // SAFETY: closes the nest level opened above.
    unsafe { pg_sys::AtEOXact_GUC(true, nest_level) };
    result
}
