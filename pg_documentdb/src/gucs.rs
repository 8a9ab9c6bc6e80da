//! Settings of the documentdb extension (`documentdb.*`).

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

static CURSOR_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(600_000);

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
}

pub fn cursor_timeout_ms() -> u64 {
    u64::try_from(CURSOR_TIMEOUT_MS.get()).unwrap_or(600_000)
}
