//! Returning a `record` with OUT parameters (e.g. `OUT p_result bson, OUT p_success bool`)
//! from a function whose SQL declaration is hand-written in `sql/documentdb_api.sql`.

use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};

/// One column of a result record.
pub enum Column {
    Bson(Vec<u8>),
    Bool(bool),
    Int8(i64),
    Null,
}

/// A composite datum built for the function's declared result type.
pub struct Record(pg_sys::Datum);

impl Record {
    /// Forms the record from `columns`, in the order of the function's OUT parameters.
    pub fn build(fcinfo: pg_sys::FunctionCallInfo, columns: Vec<Column>) -> Record {
        // SAFETY: get_call_result_type describes this call's composite result; we form a
        // tuple with exactly as many columns as we're given (checked against natts).
        unsafe {
            let mut tupdesc: pg_sys::TupleDesc = std::ptr::null_mut();
            let kind = pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut tupdesc);
            if kind != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE || tupdesc.is_null() {
                pgrx::error!("function returning a record called in a context that cannot accept it");
            }
            let tupdesc = pg_sys::BlessTupleDesc(tupdesc);
            let natts = (*tupdesc).natts as usize;
            if natts != columns.len() {
                pgrx::error!("result record has {natts} columns, built {}", columns.len());
            }
            // The OUT parameters are declared in hand-written SQL: check each column's
            // declared type against the datum we form for it, so a declaration that drifts
            // from this code is an error, never a datum read with the wrong layout.
            let attrs = (*tupdesc).attrs.as_slice(natts);
            for (attr, column) in attrs.iter().zip(&columns) {
                let fits = match column {
                    Column::Bson(_) => attr.atttypid == documentdb_pgbson::Bson::type_oid(),
                    Column::Bool(_) => attr.atttypid == pg_sys::BOOLOID,
                    Column::Int8(_) => attr.atttypid == pg_sys::INT8OID,
                    Column::Null => true,
                };
                if !fits {
                    pgrx::error!("result column {} is declared with an unexpected type", attr.attnum);
                }
            }
            let mut values = Vec::with_capacity(natts);
            let mut nulls = Vec::with_capacity(natts);
            for column in &columns {
                let (value, null) = match column {
                    Column::Bson(bytes) => (documentdb_pgbson::datum::bytes_to_varlena_datum(bytes), false),
                    Column::Bool(b) => (pg_sys::Datum::from(*b), false),
                    Column::Int8(i) => (pg_sys::Datum::from(*i), false),
                    Column::Null => (pg_sys::Datum::from(0), true),
                };
                values.push(value);
                nulls.push(null);
            }
            let tuple = pg_sys::heap_form_tuple(tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
            Record(pg_sys::HeapTupleHeaderGetDatum((*tuple).t_data))
        }
    }
}

unsafe impl BoxRet for Record {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

unsafe impl SqlTranslatable for Record {
    const TYPE_IDENT: &'static str = "documentdb::record::Record";
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Err(ArgumentError::NotValidAsArgument("record"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal("record")));
}
