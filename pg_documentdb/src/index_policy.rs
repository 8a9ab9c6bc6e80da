//! Which indexes of a collection's table the planner may use for one statement: MongoDB's
//! `hint` (one index; none for `{$natural: 1}`) and hidden indexes (kept up to date, never
//! chosen). PostgreSQL has no per-statement index choice, so while such a statement is
//! planned a `get_relation_info` hook takes the other indexes off the table's candidate
//! list (and a hinted index is forced by disabling sequential scans for that planning).
//!
//! A statement with a policy carries [`TablePolicy::sql_marker`] in its text, so cached
//! plans (keyed by text in `spi.rs` and in PostgreSQL's plan cache) never mix policies.

use std::cell::{Cell, RefCell};

use pgrx::pg_sys;

/// The indexes the planner may use on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexChoice {
    /// Only these indexes (the relations of one MongoDB index), and no sequential scan
    /// unless nothing else answers.
    Only(Vec<u32>),
    /// No index at all: a collection scan (`$natural`).
    NoIndexes,
    /// Any index but these (hidden indexes).
    Excluding(Vec<u32>),
}

/// An [`IndexChoice`] for the table with OID `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePolicy {
    pub table: u32,
    pub choice: IndexChoice,
}

impl TablePolicy {
    /// A comment naming the policy, part of the statement's text.
    pub fn sql_marker(&self) -> String {
        match &self.choice {
            IndexChoice::Only(indexes) => {
                let list: Vec<String> = indexes.iter().map(u32::to_string).collect();
                format!("/* index {} only */", list.join(","))
            }
            IndexChoice::NoIndexes => "/* no index */".to_owned(),
            IndexChoice::Excluding(indexes) => {
                let list: Vec<String> = indexes.iter().map(u32::to_string).collect();
                format!("/* indexes except {} */", list.join(","))
            }
        }
    }
}

thread_local! {
    static ACTIVE: RefCell<Option<TablePolicy>> = const { RefCell::new(None) };
    static PREVIOUS_HOOK: Cell<pg_sys::get_relation_info_hook_type> = const { Cell::new(None) };
}

/// Installs the hook (from `_PG_init`, once per backend).
pub fn install() {
    // SAFETY: _PG_init runs once per backend in its only thread; the previous hook is kept
    // and called first, as PostgreSQL's hook convention requires.
    unsafe {
        PREVIOUS_HOOK.with(|p| p.set(pg_sys::get_relation_info_hook));
        pg_sys::get_relation_info_hook = Some(relation_info_hook);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn relation_info_hook(
    root: *mut pg_sys::PlannerInfo,
    relation: pg_sys::Oid,
    inherited: bool,
    rel: *mut pg_sys::RelOptInfo,
) {
    // SAFETY: arguments as PostgreSQL passes them to every get_relation_info hook; the list
    // is rebuilt in the planner's current memory context from the same IndexOptInfo nodes.
    unsafe {
        if let Some(previous) = PREVIOUS_HOOK.with(Cell::get) {
            previous(root, relation, inherited, rel);
        }
        let choice =
            ACTIVE.with(|a| a.borrow().as_ref().filter(|p| p.table == relation.to_u32()).map(|p| p.choice.clone()));
        let Some(choice) = choice else { return };
        let indexes = pgrx::PgList::<pg_sys::IndexOptInfo>::from_pg((*rel).indexlist);
        let mut kept = pgrx::PgList::<pg_sys::IndexOptInfo>::new();
        for index in indexes.iter_ptr() {
            let oid = (*index).indexoid.to_u32();
            let keep = match &choice {
                IndexChoice::Only(only) => only.contains(&oid),
                IndexChoice::NoIndexes => false,
                IndexChoice::Excluding(hidden) => !hidden.contains(&oid),
            };
            if keep {
                kept.push(index);
            }
        }
        (*rel).indexlist = kept.into_pg();
    }
}

/// Runs `execute` (an SPI execution that may plan) with `policy` in force.
pub fn while_planning<T>(policy: Option<&TablePolicy>, execute: impl FnOnce() -> T) -> T {
    let Some(policy) = policy else { return execute() };
    let previous = ACTIVE.with(|a| a.replace(Some(policy.clone())));
    // Restores the previous policy however `execute` ends (a PostgreSQL error unwinds
    // through here as a Rust panic).
    struct Restore(Option<TablePolicy>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = ACTIVE.try_with(|a| a.replace(previous));
        }
    }
    let _restore = Restore(previous);
    if !matches!(policy.choice, IndexChoice::Only(_)) {
        return execute();
    }
    crate::gucs::with_setting(c"enable_seqscan", c"off", execute)
}
