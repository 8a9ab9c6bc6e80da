//! A stack-depth guard for recursive code.
//!
//! Inside PostgreSQL our code runs on the backend's own stack: recursion that overflows it
//! is a SIGSEGV, and the postmaster then restarts every connection. Every function that
//! recurses on data or on a specification therefore calls [`guard`] at each step, which
//! fails with Overflow (15) instead of crashing when the stack is nearly used up.
//!
//! Where the stack ends is only known to the host: the `documentdb_pgbson` glue installs
//! a hook ([`install_hook`]) calling PostgreSQL's `stack_is_too_deep()` (which compares
//! the stack pointer with `max_stack_depth`) when an extension is loaded. The hook answers
//! for the thread that installed it (PostgreSQL's backend thread) only. Everywhere else
//! (unit tests, the gateway's threads) a pure fallback is used: each thread remembers the
//! highest stack address it was seen at and reports "too deep" once the stack has grown
//! [`FALLBACK_STACK_BUDGET`] bytes below it (stacks grow downwards on every supported
//! target; where they do not, the fallback never fires).
//!
//! The guard is a few nanoseconds (a thread-local read and an indirect call), but it is
//! meant for recursion steps, not for per-element loops. Limits on paths and on nesting
//! (see [`crate::path::MAX_PATH_COMPONENTS`], [`crate::validate::MAX_VALUE_DEPTH`]) keep
//! well-formed input far away from it; the guard is the safety net for everything else.
use std::cell::Cell;
use std::sync::OnceLock;
use std::thread::ThreadId;

use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

/// "Is the stack too deep?" as the host answers it.
pub type TooDeepHook = fn() -> bool;

/// How far below the highest point it was observed at a thread's stack may grow before
/// the fallback reports it as too deep. Rust's spawned threads (and test threads) have 2
/// MiB stacks by default, main threads 8 MiB; unoptimized builds use several KiB of stack
/// per level of a filter or expression, so 100 legitimate levels need about 1 MiB there.
pub const FALLBACK_STACK_BUDGET: usize = 1536 * 1024;

/// The message of the error [`guard`] returns.
pub const STACK_DEPTH_MESSAGE: &str = "Stack depth limit exceeded: the document, value or specification is \
     nested too deeply to be processed; reduce its nesting (or the number of components of its paths)";

static HOOK: OnceLock<(TooDeepHook, ThreadId)> = OnceLock::new();

/// The hook's standing on the current thread.
const ROLE_UNKNOWN: u8 = 0;
const ROLE_HOOK: u8 = 1;
const ROLE_FALLBACK: u8 = 2;

thread_local! {
    static ROLE: Cell<u8> = const { Cell::new(ROLE_UNKNOWN) };
    /// Highest stack address the fallback has seen on this thread (0: none yet).
    static HIGH_WATER: Cell<usize> = const { Cell::new(0) };
}

/// Installs the host's "is the stack too deep?" hook for the calling thread. The first
/// installation wins (later calls change nothing and return `false`); other threads keep
/// using the fallback.
pub fn install_hook(hook: TooDeepHook) -> bool {
    let installed = HOOK.set((hook, std::thread::current().id())).is_ok();
    ROLE.with(|role| role.set(ROLE_UNKNOWN));
    installed
}

/// Whether a hook is installed and answers for the calling thread.
pub fn hook_active() -> bool {
    current_hook().is_some()
}

#[inline]
fn current_hook() -> Option<TooDeepHook> {
    let (hook, owner) = HOOK.get()?;
    match ROLE.with(Cell::get) {
        ROLE_HOOK => Some(*hook),
        ROLE_FALLBACK => None,
        _ => {
            let mine = std::thread::current().id() == *owner;
            ROLE.with(|role| role.set(if mine { ROLE_HOOK } else { ROLE_FALLBACK }));
            mine.then_some(*hook)
        }
    }
}

/// Is the stack too deep to recurse further? The host's answer when its hook is
/// installed on this thread, else the fallback's.
#[inline]
pub fn too_deep() -> bool {
    match current_hook() {
        Some(hook) => hook(),
        None => fallback_too_deep(),
    }
}

/// The fallback: stack use below the highest address seen on this thread.
#[inline(never)]
fn fallback_too_deep() -> bool {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    HIGH_WATER.with(|high| {
        let top = high.get();
        if here > top {
            high.set(here);
            return false;
        }
        top - here > FALLBACK_STACK_BUDGET
    })
}

/// `Err(Overflow)` when the stack is too deep to recurse further (see the module
/// documentation); call it at every recursion step.
#[inline]
pub fn guard() -> DocDbResult<()> {
    if too_deep() {
        return Err(too_deep_error());
    }
    Ok(())
}

/// The error [`guard`] returns: Overflow (15) with [`STACK_DEPTH_MESSAGE`].
#[cold]
pub fn too_deep_error() -> DocDbError {
    DocDbError::new(ErrorCode::Overflow, STACK_DEPTH_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recurses with a sizeable frame until the guard fails; returns the depth reached.
    fn recurse_until_error() -> (usize, DocDbError) {
        fn go(depth: usize, deepest: &mut usize) -> DocDbResult<()> {
            *deepest = depth;
            guard()?;
            let frame = std::hint::black_box([depth as u8; 512]);
            go(depth + 1, deepest)?;
            std::hint::black_box(frame);
            Ok(())
        }
        let mut deepest = 0;
        let err = go(0, &mut deepest).expect_err("the guard must stop unbounded recursion");
        (deepest, err)
    }

    #[test]
    fn fallback_stops_unbounded_recursion_before_the_stack_overflows() {
        // A test thread has a 2 MiB stack: without the guard this recursion would crash.
        let (deepest, err) = recurse_until_error();
        assert_eq!(err.code, ErrorCode::Overflow);
        assert_eq!(err.message, STACK_DEPTH_MESSAGE);
        assert!(deepest > 100, "the budget allows ordinary nesting (reached {deepest})");
        // After unwinding, the guard passes again.
        assert!(guard().is_ok());
        assert_eq!(recurse_until_error().1.code, ErrorCode::Overflow);
    }

    #[test]
    fn fallback_works_on_a_small_thread_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(FALLBACK_STACK_BUDGET + 512 * 1024)
            .spawn(|| recurse_until_error().1.code)
            .expect("spawn");
        assert_eq!(handle.join().expect("no stack overflow"), ErrorCode::Overflow);
    }

    #[test]
    fn a_shallow_stack_is_not_too_deep() {
        assert!(!too_deep());
        assert!(guard().is_ok());
    }

    #[test]
    fn the_hook_answers_for_its_own_thread_only() {
        // The only test that installs a hook (it is process-wide and set once): it says
        // "too deep" always, on this test's thread only.
        fn always() -> bool {
            true
        }
        assert!(install_hook(always));
        assert!(hook_active());
        assert!(too_deep());
        assert_eq!(guard().unwrap_err().code, ErrorCode::Overflow);
        // A second installation changes nothing.
        fn never() -> bool {
            false
        }
        assert!(!install_hook(never));
        assert!(too_deep());
        // Other threads keep the fallback.
        let other = std::thread::spawn(|| (hook_active(), guard().is_ok())).join().expect("joins");
        assert_eq!(other, (false, true));
    }
}
