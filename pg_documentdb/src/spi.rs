//! The one module that talks to SPI directly. Statements are prepared once per backend and
//! kept (`SPI_keepplan`) in a cache keyed by their SQL text; PostgreSQL's plan cache
//! revalidates them when the tables they use change. Results are copied out of SPI memory
//! into Rust values before the connection is released.
//!
//! All functions here must be called inside [`with_spi`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CStr, CString};

use documentdb_errors::{docdb_error, DocDbResult};
use documentdb_pgbson::{Bson, BsonQuery, BsonSequence};
use pgrx::pg_sys;
use pgrx::{FromDatum, IntoDatum};

/// A statement parameter.
#[derive(Debug, Clone)]
pub enum Param<'a> {
    Bson(&'a [u8]),
    Text(&'a str),
    Int8(i64),
    Int4(i32),
    /// `tid`, as (block, offset).
    Tid(u32, u16),
    /// `bson[]`.
    BsonArray(&'a [Vec<u8>]),
    Null(ParamType),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Bson,
    Text,
    Int8,
    Int4,
    Tid,
    BsonArray,
}

impl ParamType {
    fn oid(self) -> pg_sys::Oid {
        match self {
            ParamType::Bson => Bson::type_oid(),
            ParamType::Text => pg_sys::TEXTOID,
            ParamType::Int8 => pg_sys::INT8OID,
            ParamType::Int4 => pg_sys::INT4OID,
            ParamType::Tid => pg_sys::TIDOID,
            // SAFETY: catalog lookup of the array type of our bson type.
            ParamType::BsonArray => unsafe { pg_sys::get_array_type(Bson::type_oid()) },
        }
    }
}

impl Param<'_> {
    fn param_type(&self) -> ParamType {
        match self {
            Param::Bson(_) => ParamType::Bson,
            Param::Text(_) => ParamType::Text,
            Param::Int8(_) => ParamType::Int8,
            Param::Int4(_) => ParamType::Int4,
            Param::Tid(..) => ParamType::Tid,
            Param::BsonArray(_) => ParamType::BsonArray,
            Param::Null(t) => *t,
        }
    }

    fn datum(&self) -> (pg_sys::Datum, u8) {
        let datum = match self {
            Param::Bson(bytes) => documentdb_pgbson::datum::bytes_to_varlena_datum(bytes),
            Param::Text(text) => text.into_datum().unwrap_or(pg_sys::Datum::from(0)),
            Param::Int8(v) => pg_sys::Datum::from(*v),
            Param::Int4(v) => pg_sys::Datum::from(*v),
            Param::Tid(block, offset) => {
                // SAFETY: palloc'd ItemPointerData filled field by field.
                unsafe {
                    let ptr =
                        pg_sys::palloc0(std::mem::size_of::<pg_sys::ItemPointerData>()) as *mut pg_sys::ItemPointerData;
                    pgrx::itemptr::item_pointer_set_all(&mut *ptr, *block, *offset);
                    pg_sys::Datum::from(ptr)
                }
            }
            Param::BsonArray(items) => {
                let mut datums: Vec<pg_sys::Datum> =
                    items.iter().map(|b| documentdb_pgbson::datum::bytes_to_varlena_datum(b)).collect();
                // SAFETY: a one-dimensional array of varlena (typlen -1, by reference, int4
                // alignment) elements of the bson type.
                unsafe {
                    let array = pg_sys::construct_array(
                        datums.as_mut_ptr(),
                        datums.len() as i32,
                        Bson::type_oid(),
                        -1,
                        false,
                        pg_sys::TYPALIGN_INT as std::ffi::c_char,
                    );
                    pg_sys::Datum::from(array)
                }
            }
            Param::Null(_) => return (pg_sys::Datum::from(0), b'n'),
        };
        (datum, b' ')
    }
}

/// One column value copied out of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bson(Vec<u8>),
    Text(String),
    Int8(i64),
    Int4(i32),
    Bool(bool),
    Float8(f64),
    Tid(u32, u16),
}

impl Value {
    pub fn into_bson(self) -> Option<Vec<u8>> {
        match self {
            Value::Bson(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int8(v) => Some(*v),
            Value::Int4(v) => Some(i64::from(*v)),
            _ => None,
        }
    }
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

pub type Row = Vec<Value>;

type PlanKey = (String, Vec<ParamType>, i32);

thread_local! {
    static PLANS: RefCell<HashMap<PlanKey, usize>> = RefCell::new(HashMap::new());
    /// How many executions of cached plans are under way in this backend (they nest: a
    /// statement we run may call our functions, which run statements of their own).
    static PLANS_EXECUTING: Cell<usize> = const { Cell::new(0) };
}

/// Cap on kept plans per backend; when exceeded the cache is dropped wholesale (plans for
/// dropped collections would otherwise accumulate forever). The cache is only dropped when
/// no cached plan is executing: SPI reads a plan it executes after the run returns, so a
/// nested call that freed it made the backend read freed memory (a crash the crash hunt
/// found; `cursor_get_more` over a statement that itself prepares 700 statements showed it).
const MAX_CACHED_PLANS: usize = 512;

/// Runs `execute` (an SPI call given a cached plan) with the cache marked as executing, so
/// that nothing called from inside it frees the plan. The mark is removed however `execute`
/// ends (a PostgreSQL error unwinds through here as a Rust panic).
fn executing_cached_plan<T>(execute: impl FnOnce() -> T) -> T {
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            let _ = PLANS_EXECUTING.try_with(|n| n.set(n.get().saturating_sub(1)));
        }
    }
    PLANS_EXECUTING.with(|n| n.set(n.get() + 1));
    let _done = Done;
    execute()
}

/// Runs `f` with an SPI connection, finishing it afterwards (on error, PostgreSQL's
/// transaction abort cleans the connection up).
pub fn with_spi<T>(f: impl FnOnce() -> DocDbResult<T>) -> DocDbResult<T> {
    // SAFETY: balanced SPI_connect/SPI_finish around `f` on the normal path.
    unsafe {
        pg_sys::SPI_connect();
    }
    let result = f();
    // SAFETY: matches the SPI_connect above.
    unsafe {
        pg_sys::SPI_finish();
    }
    result
}

fn prepare(sql: &str, types: &[ParamType], cursor_options: i32) -> DocDbResult<pg_sys::SPIPlanPtr> {
    // Generic plans unless the caller asks for custom ones: most parameters are documents
    // (filters, batches of documents) whose values don't change the plan shape, and custom
    // plans would re-plan (and deep-copy multi-megabyte parameter arrays into the plan) on
    // every early execution. Index key ranges are the exception (see `PlanChoice`).
    let cursor_options = if cursor_options & pg_sys::CURSOR_OPT_CUSTOM_PLAN as i32 != 0 {
        cursor_options
    } else {
        cursor_options | pg_sys::CURSOR_OPT_GENERIC_PLAN as i32
    };
    let key: PlanKey = (sql.to_owned(), types.to_vec(), cursor_options);
    if let Some(plan) = PLANS.with(|p| p.borrow().get(&key).copied()) {
        return Ok(plan as pg_sys::SPIPlanPtr);
    }
    let csql = CString::new(sql).map_err(|_| docdb_error!(InternalError, "SQL text contains NUL"))?;
    let mut oids: Vec<pg_sys::Oid> = types.iter().map(|t| t.oid()).collect();
    // SAFETY: valid C string and argument type array; the plan is kept in
    // TopMemoryContext by SPI_keepplan so it outlives this SPI connection.
    let plan = unsafe {
        let plan = pg_sys::SPI_prepare_cursor(csql.as_ptr(), oids.len() as i32, oids.as_mut_ptr(), cursor_options);
        if plan.is_null() {
            return Err(docdb_error!(InternalError, "SPI_prepare failed for: {sql}"));
        }
        pg_sys::SPI_keepplan(plan);
        plan
    };
    let nothing_executing = PLANS_EXECUTING.with(Cell::get) == 0;
    PLANS.with(|p| {
        let mut plans = p.borrow_mut();
        if plans.len() >= MAX_CACHED_PLANS && nothing_executing {
            for (_, old) in plans.drain() {
                // SAFETY: plans in the cache were kept by us, and none is executing (checked
                // above). Portals opened from them hold their own copies of what they use.
                unsafe {
                    pg_sys::SPI_freeplan(old as pg_sys::SPIPlanPtr);
                }
            }
        }
        plans.insert(key, plan as usize);
    });
    Ok(plan)
}

fn param_arrays(params: &[Param<'_>]) -> (Vec<ParamType>, Vec<pg_sys::Datum>, Vec<u8>) {
    let types = params.iter().map(Param::param_type).collect();
    let (datums, nulls): (Vec<_>, Vec<_>) = params.iter().map(Param::datum).unzip();
    (types, datums, nulls)
}

/// Copies one column of the current SPI tuple table row.
///
/// Every column type is matched explicitly: a datum is only read the way its type is laid
/// out (by value, fixed-length by reference, or varlena). A type this reader does not know
/// is an error, never a guess: reading a `name` column (a 64-byte fixed-length value, as
/// `pg_roles.rolname`) as a varlena crashed the backend in `updateUser`.
///
/// # Safety
/// `tuple`/`tupdesc` from the live SPI_tuptable; `column` is 1-based and in range.
unsafe fn read_column(tuple: pg_sys::HeapTuple, tupdesc: pg_sys::TupleDesc, column: i32) -> DocDbResult<Value> {
    unsafe {
        let mut is_null = false;
        let datum = pg_sys::SPI_getbinval(tuple, tupdesc, column, &mut is_null);
        if is_null {
            return Ok(Value::Null);
        }
        let typoid = pg_sys::SPI_gettypeid(tupdesc, column);
        Ok(match typoid {
            pg_sys::INT8OID => Value::Int8(datum.value() as i64),
            pg_sys::INT4OID => Value::Int4(datum.value() as i32),
            pg_sys::INT2OID => Value::Int4(i32::from(datum.value() as i16)),
            pg_sys::OIDOID => Value::Int8(i64::from(datum.value() as u32)),
            pg_sys::BOOLOID => Value::Bool(datum.value() != 0),
            pg_sys::FLOAT8OID => Value::Float8(f64::from_datum(datum, false).unwrap_or_default()),
            pg_sys::FLOAT4OID => Value::Float8(f64::from(f32::from_datum(datum, false).unwrap_or_default())),
            // `json` (EXPLAIN's output) is stored as its text, like `text`.
            pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID | pg_sys::JSONOID => {
                Value::Text(String::from_datum(datum, false).unwrap_or_default())
            }
            // `name` is a fixed-length, NUL-padded C string passed by reference, not a varlena.
            pg_sys::NAMEOID => {
                let name = datum.cast_mut_ptr::<pg_sys::NameData>();
                Value::Text(CStr::from_ptr((*name).data.as_ptr()).to_string_lossy().into_owned())
            }
            pg_sys::TIDOID => {
                let ptr = datum.cast_mut_ptr::<pg_sys::ItemPointerData>();
                let (block, offset) = pgrx::itemptr::item_pointer_get_both(*ptr);
                Value::Tid(block, offset)
            }
            oid if is_bson_family(oid) => {
                let varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
                Value::Bson(pgrx::varlena::varlena_to_byte_slice(varlena).to_vec())
            }
            other => {
                return Err(docdb_error!(
                    InternalError,
                    "internal query returned a column of unsupported type (oid {})",
                    other.to_u32()
                ))
            }
        })
    }
}

/// The varlena types whose bytes [`Value::Bson`] carries: `bson`, `bsonquery`, `bsonsequence`.
fn is_bson_family(oid: pg_sys::Oid) -> bool {
    oid == Bson::type_oid() || oid == BsonQuery::type_oid() || oid == BsonSequence::type_oid()
}

/// # Safety
/// Called right after a successful SPI execution or fetch.
unsafe fn collect_rows() -> DocDbResult<Vec<Row>> {
    unsafe {
        let table = pg_sys::SPI_tuptable;
        if table.is_null() {
            return Ok(Vec::new());
        }
        let count = pg_sys::SPI_processed as usize;
        let tupdesc = (*table).tupdesc;
        let natts = (*tupdesc).natts;
        let mut rows = Vec::with_capacity(count);
        let mut failure = None;
        'rows: for i in 0..count {
            let tuple = *(*table).vals.add(i);
            let mut row = Vec::with_capacity(natts as usize);
            for c in 1..=natts {
                match read_column(tuple, tupdesc, c) {
                    Ok(value) => row.push(value),
                    Err(e) => {
                        failure = Some(e);
                        break 'rows;
                    }
                }
            }
            rows.push(row);
        }
        pg_sys::SPI_freetuptable(table);
        match failure {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }
}

/// How a cached statement is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanChoice {
    /// One generic plan for all parameter values.
    #[default]
    Generic,
    /// A plan for each execution's values: for index key ranges, whose selectivity (and so
    /// the choice between an ordered index scan and a bitmap scan plus sort) depends on the
    /// bounds; a generic plan would assume a fixed fraction for every range.
    Custom,
}

/// How a statement is planned: generic or custom plans, and which of its table's indexes
/// the planner may use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planning {
    pub plan: PlanChoice,
    pub indexes: Option<crate::index_policy::TablePolicy>,
}

impl Planning {
    /// The statement's text with its index policy's marker: cached plans are keyed by text,
    /// so plans made under different policies never mix.
    fn marked<'s>(&self, sql: &'s str) -> std::borrow::Cow<'s, str> {
        match &self.indexes {
            Some(policy) => format!("{} {sql}", policy.sql_marker()).into(),
            None => sql.into(),
        }
    }
}

impl PlanChoice {
    fn cursor_options(self) -> i32 {
        match self {
            PlanChoice::Generic => 0,
            PlanChoice::Custom => pg_sys::CURSOR_OPT_CUSTOM_PLAN as i32,
        }
    }
}

/// Executes a (cached) statement with parameters; returns the rows it produced (for
/// INSERT/UPDATE/DELETE, the RETURNING rows). `limit` 0 = all rows.
pub fn execute(sql: &str, params: &[Param<'_>], read_only: bool, limit: i64) -> DocDbResult<Vec<Row>> {
    execute_planned(sql, params, read_only, limit, &Planning::default())
}

/// [`execute`] with the plan choice given.
pub fn execute_planned(
    sql: &str,
    params: &[Param<'_>],
    read_only: bool,
    limit: i64,
    planning: &Planning,
) -> DocDbResult<Vec<Row>> {
    let (types, mut datums, nulls) = param_arrays(params);
    let sql = &planning.marked(sql);
    let plan = prepare(sql, &types, planning.plan.cursor_options())?;
    // SAFETY: plan matches the parameter arrays' length and types.
    unsafe {
        // Never SPI's read-only mode: it reuses the caller's snapshot, so a command that
        // wrote (e.g. created a collection) and then reads would not see its own writes.
        let _ = read_only;
        let rc = crate::index_policy::while_planning(planning.indexes.as_ref(), || {
            executing_cached_plan(|| {
                pg_sys::SPI_execute_plan(
                    plan,
                    datums.as_mut_ptr(),
                    nulls.as_ptr() as *const std::ffi::c_char,
                    false,
                    limit as std::ffi::c_long,
                )
            })
        });
        if rc < 0 {
            return Err(docdb_error!(InternalError, "SPI execution failed ({rc}) for: {sql}"));
        }
        collect_rows()
    }
}

/// Executes a statement that is not worth caching (DDL with generated names).
pub fn execute_once(sql: &str) -> DocDbResult<()> {
    let csql = CString::new(sql).map_err(|_| docdb_error!(InternalError, "SQL text contains NUL"))?;
    // SAFETY: plain SPI_execute of a valid C string.
    let rc = unsafe { pg_sys::SPI_execute(csql.as_ptr(), false, 0) };
    if rc < 0 {
        return Err(docdb_error!(InternalError, "SPI execution failed ({rc}) for: {sql}"));
    }
    Ok(())
}

/// Opens a named cursor (portal) for a query. With `hold`, the portal survives the end of
/// the transaction (PostgreSQL materialises the remaining rows at commit); without, it
/// lives until the transaction ends — callers choose `hold` when they are not inside a
/// transaction block.
pub fn open_cursor(name: &str, sql: &str, params: &[Param<'_>], hold: bool, planning: &Planning) -> DocDbResult<()> {
    let (types, mut datums, nulls) = param_arrays(params);
    let options = if hold { pg_sys::CURSOR_OPT_HOLD as i32 } else { 0 }
        | pg_sys::CURSOR_OPT_NO_SCROLL as i32
        | planning.plan.cursor_options();
    let plan = prepare(&planning.marked(sql), &types, options)?;
    let cname = CString::new(name).map_err(|_| docdb_error!(InternalError, "cursor name contains NUL"))?;
    // SAFETY: plan/params consistent; the portal name is copied by PostgreSQL.
    unsafe {
        let portal = crate::index_policy::while_planning(planning.indexes.as_ref(), || {
            executing_cached_plan(|| {
                pg_sys::SPI_cursor_open(
                    cname.as_ptr(),
                    plan,
                    datums.as_mut_ptr(),
                    nulls.as_ptr() as *const std::ffi::c_char,
                    true,
                )
            })
        });
        if portal.is_null() {
            return Err(docdb_error!(InternalError, "could not open cursor {name}"));
        }
    }
    Ok(())
}

/// Fetches up to `count` rows from a named cursor; `None` when no such cursor exists.
pub fn fetch_cursor(name: &str, count: i64) -> DocDbResult<Option<Vec<Row>>> {
    let cname = CString::new(name).map_err(|_| docdb_error!(InternalError, "cursor name contains NUL"))?;
    // SAFETY: portal looked up by name; fetch into SPI_tuptable.
    unsafe {
        let portal = pg_sys::SPI_cursor_find(cname.as_ptr());
        if portal.is_null() {
            return Ok(None);
        }
        pg_sys::SPI_cursor_fetch(portal, true, count as std::ffi::c_long);
        collect_rows().map(Some)
    }
}

/// Closes a named cursor if it exists; returns whether it did.
pub fn close_cursor(name: &str) -> bool {
    let Ok(cname) = CString::new(name) else {
        return false;
    };
    // SAFETY: portal looked up by name.
    unsafe {
        let portal = pg_sys::SPI_cursor_find(cname.as_ptr());
        if portal.is_null() {
            return false;
        }
        pg_sys::SPI_cursor_close(portal);
        true
    }
}

/// Are we inside an explicit transaction block (BEGIN ... COMMIT)?
pub fn in_transaction_block() -> bool {
    // SAFETY: reads transaction state.
    unsafe { pg_sys::IsTransactionBlock() }
}

/// Name of the current user, for messages.
pub fn current_user() -> String {
    // SAFETY: GetUserNameFromId returns a palloc'd C string for a valid role.
    unsafe {
        let ptr = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), true);
        if ptr.is_null() {
            String::new()
        } else {
            CStr::from_ptr(ptr).to_string_lossy().into_owned()
        }
    }
}

/// `name` quoted as an SQL identifier, by PostgreSQL's own `quote_identifier`.
pub fn quote_ident(name: &str) -> String {
    pgrx::spi::quote_identifier(name)
}

/// `text` quoted as an SQL string literal, by PostgreSQL's own `quote_literal`.
pub fn quote_literal(text: &str) -> String {
    pgrx::spi::quote_literal(text)
}

/// Fills `buf` from PostgreSQL's strong random source; false when none is available.
pub fn strong_random(buf: &mut [u8]) -> bool {
    // SAFETY: pg_strong_random writes exactly `buf.len()` bytes into `buf`.
    unsafe { pg_sys::pg_strong_random(buf.as_mut_ptr().cast(), buf.len()) }
}

/// Table privileges a command needs on a collection's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TablePrivilege {
    Select,
    Insert,
    Update,
    Delete,
}

/// Whether the current user holds `privilege` on the table `oid` (directly, through a role,
/// or as a superuser): PostgreSQL's own ACL check, the one its executor makes.
pub fn has_table_privilege(oid: u32, privilege: TablePrivilege) -> bool {
    let mode = match privilege {
        TablePrivilege::Select => pg_sys::ACL_SELECT,
        TablePrivilege::Insert => pg_sys::ACL_INSERT,
        TablePrivilege::Update => pg_sys::ACL_UPDATE,
        TablePrivilege::Delete => pg_sys::ACL_DELETE,
    };
    // SAFETY: pg_class_aclcheck reads the catalogs for any OID (a dropped table reports an
    // error, which cannot happen for an OID we just looked up in this transaction).
    unsafe {
        pg_sys::pg_class_aclcheck(pg_sys::Oid::from(oid), pg_sys::GetUserId(), mode as pg_sys::AclMode)
            == pg_sys::AclResult::ACLCHECK_OK
    }
}

/// Whether the current user is a PostgreSQL superuser.
pub fn current_user_is_superuser() -> bool {
    // SAFETY: reads the role cache for the current user id.
    unsafe { pg_sys::superuser() }
}

thread_local! {
    /// The role that owns the extension (a superuser: the extension is not trusted).
    static EXTENSION_OWNER: std::cell::Cell<Option<pg_sys::Oid>> = const { std::cell::Cell::new(None) };
}

fn extension_owner() -> DocDbResult<pg_sys::Oid> {
    if let Some(oid) = EXTENSION_OWNER.with(|o| o.get()) {
        return Ok(oid);
    }
    let rows =
        execute("SELECT extowner::bigint FROM pg_catalog.pg_extension WHERE extname = 'documentdb'", &[], true, 1)?;
    let oid = rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next()?.as_i64())
        .and_then(|o| u32::try_from(o).ok())
        .ok_or_else(|| docdb_error!(InternalError, "the documentdb extension is not installed in this database"))?;
    let oid = pg_sys::Oid::from(oid);
    EXTENSION_OWNER.with(|o| o.set(Some(oid)));
    Ok(oid)
}

/// Runs `f` as the extension's owner, the way a SECURITY DEFINER function runs: catalog
/// writes, DDL on collection tables and role management happen only here, after the
/// caller has checked the MongoDB privilege the command needs (`authz`). The search path
/// is pinned to `pg_catalog, pg_temp` meanwhile, so no object of the caller's can stand in
/// for one of ours. PostgreSQL restores the user id and settings itself if `f` errors
/// (transaction or subtransaction abort), as it does for SECURITY DEFINER functions.
pub fn as_extension_owner<T>(f: impl FnOnce() -> DocDbResult<T>) -> DocDbResult<T> {
    let owner = extension_owner()?;
    let mut saved_user = pg_sys::Oid::INVALID;
    let mut saved_context = 0i32;
    // SAFETY: saves the current user id and security context, then switches as
    // fmgr_security_definer does; restored below on the normal path, by PostgreSQL on abort.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
        pg_sys::SetUserIdAndSecContext(owner, saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
    }
    let result = crate::gucs::with_setting(c"search_path", c"pg_catalog, pg_temp", f);
    // SAFETY: restores exactly what was saved above.
    unsafe { pg_sys::SetUserIdAndSecContext(saved_user, saved_context) };
    result
}
