//! Connects the pure crates' stack-depth guard ([`documentdb_bson::stack`]) to PostgreSQL.
//!
//! Our code runs on the backend's stack; a stack overflow there is a SIGSEGV that makes the
//! postmaster restart every connection. PostgreSQL knows where its stack starts and how
//! deep it may grow (`max_stack_depth`): `stack_is_too_deep()` answers without raising.
//! Each extension calls [`install_stack_guard`] from its `_PG_init`.

// PostgreSQL's own check. Declared here rather than used through `pg_sys`, whose wrapper
// sets up a `sigsetjmp` error boundary on every call: this function never raises, and the
// guard runs at every recursion step of the query code, so it must stay a plain call.
unsafe extern "C-unwind" {
    #[link_name = "stack_is_too_deep"]
    fn pg_stack_is_too_deep() -> bool;
}

fn postgres_stack_is_too_deep() -> bool {
    // SAFETY: `stack_is_too_deep` only compares the address of a local variable with
    // PostgreSQL's recorded stack base and `max_stack_depth`; it takes no arguments, has no
    // side effects and cannot raise an error. The guard calls it only on the thread that
    // installed the hook, the backend's main thread.
    unsafe { pg_stack_is_too_deep() }
}

/// Installs PostgreSQL's stack-depth check as the guard of the recursive code in
/// `documentdb_bson` / `documentdb_query` (for the calling thread, the backend's). Call it
/// from `_PG_init`; calling it again is harmless.
pub fn install_stack_guard() {
    documentdb_bson::stack::install_hook(postgres_stack_is_too_deep);
}
