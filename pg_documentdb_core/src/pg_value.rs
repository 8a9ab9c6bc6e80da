//! Converting PostgreSQL values of any type into BSON values, for `bson_build_document`,
//! `row_get_bson` and `bson_array_agg`. This is the crate's one module that reads raw
//! datums by type OID; every `unsafe` block states what it relies on.

use bson::raw::CStr as BsonKey;
use bson::{Binary, RawArrayBuf, RawBson, RawDocument, RawDocumentBuf};
use documentdb_errors::{docdb_error, DocDbResult};
use documentdb_pgbson::Bson;
use pgrx::pg_sys;
use pgrx::{AnyNumeric, FromDatum, IntoDatum};

/// Milliseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
const POSTGRES_EPOCH_UNIX_MS: i64 = 946_684_800_000;

pub(crate) fn bson_key(key: &str) -> DocDbResult<&BsonKey> {
    key.try_into().map_err(|_| docdb_error!(BadValue, "field names cannot contain NUL characters: {key:?}"))
}

/// A bson argument contributes its value: `{ "" : v }` (what `->` returns) unwraps to `v`,
/// any other document is embedded as a document.
pub(crate) fn bson_argument_value(doc: &RawDocument) -> RawBson {
    let mut elements = doc.iter_elements();
    if let (Some(Ok(first)), None) = (elements.next(), elements.next()) {
        if first.key().as_str().is_empty() {
            if let Ok(value) = first.value() {
                return RawBson::from(value);
            }
        }
    }
    RawBson::Document(doc.to_owned())
}

/// Converts PostgreSQL numerics as DocumentDB does: integral values become int32 or int64
/// when they fit, other values double when finite as double, otherwise decimal128.
fn numeric_to_bson(text: &str) -> DocDbResult<RawBson> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(match i32::try_from(i) {
            Ok(small) => RawBson::Int32(small),
            Err(_) => RawBson::Int64(i),
        });
    }
    if let Ok(d) = text.parse::<f64>() {
        if d.is_finite() || text.eq_ignore_ascii_case("nan") {
            return Ok(RawBson::Double(d));
        }
    }
    if text.eq_ignore_ascii_case("infinity") {
        return Ok(RawBson::Double(f64::INFINITY));
    }
    if text.eq_ignore_ascii_case("-infinity") {
        return Ok(RawBson::Double(f64::NEG_INFINITY));
    }
    text.parse::<bson::Decimal128>()
        .map(RawBson::Decimal128)
        .map_err(|e| docdb_error!(ConversionFailure, "numeric {text} does not fit decimal128: {e}"))
}

fn micros_to_date(micros: i64) -> RawBson {
    // PostgreSQL's ±infinity timestamps map to the extreme dates.
    let millis = micros.div_euclid(1000).saturating_add(POSTGRES_EPOCH_UNIX_MS);
    RawBson::DateTime(bson::DateTime::from_millis(millis))
}

/// Text of any datum through its type's output function.
///
/// # Safety
/// `datum` must be a valid, non-null value of type `typoid`.
unsafe fn output_text(datum: pg_sys::Datum, typoid: pg_sys::Oid) -> String {
    unsafe {
        let mut output_fn = pg_sys::InvalidOid;
        let mut is_varlena = false;
        pg_sys::getTypeOutputInfo(typoid, &mut output_fn, &mut is_varlena);
        let cstr = pg_sys::OidOutputFunctionCall(output_fn, datum);
        let text = std::ffi::CStr::from_ptr(cstr).to_string_lossy().into_owned();
        pg_sys::pfree(cstr.cast());
        text
    }
}

/// Converts one PostgreSQL value to BSON.
///
/// # Safety
/// `datum` must be a valid value of type `typoid` (ignored when `is_null`).
pub(crate) unsafe fn datum_to_bson(datum: pg_sys::Datum, is_null: bool, typoid: pg_sys::Oid) -> DocDbResult<RawBson> {
    if is_null {
        return Ok(RawBson::Null);
    }
    if typoid == Bson::type_oid() {
        // SAFETY: typoid says this is our varlena.
        let bytes = unsafe { Bson::from_datum(datum, false) }.map(|b| b.0).unwrap_or_default();
        let doc =
            RawDocument::from_bytes(&bytes).map_err(|e| docdb_error!(InvalidBSON, "corrupt bson argument: {e}"))?;
        return Ok(bson_argument_value(doc));
    }
    // SAFETY (all arms): each arm reads the datum as the representation of the type its OID
    // names, exactly as the type's own C functions do.
    unsafe {
        Ok(match typoid {
            pg_sys::BOOLOID => RawBson::Boolean(datum.value() != 0),
            pg_sys::INT2OID => RawBson::Int32(i32::from(datum.value() as i16)),
            pg_sys::INT4OID => RawBson::Int32(datum.value() as i32),
            pg_sys::INT8OID => RawBson::Int64(datum.value() as i64),
            pg_sys::OIDOID => RawBson::Int64(i64::from(datum.value() as u32)),
            pg_sys::FLOAT4OID => RawBson::Double(f64::from(f32::from_datum(datum, false).unwrap_or_default())),
            pg_sys::FLOAT8OID => RawBson::Double(f64::from_datum(datum, false).unwrap_or_default()),
            pg_sys::NUMERICOID => {
                let numeric = AnyNumeric::from_datum(datum, false)
                    .ok_or_else(|| docdb_error!(InternalError, "null numeric datum"))?;
                numeric_to_bson(&numeric.to_string())?
            }
            pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID | pg_sys::NAMEOID => {
                RawBson::String(output_text(datum, typoid))
            }
            pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID => micros_to_date(datum.value() as i64),
            pg_sys::DATEOID => {
                let days = i64::from(datum.value() as i32);
                micros_to_date(days.saturating_mul(86_400_000_000))
            }
            pg_sys::BYTEAOID => {
                let bytes = <&[u8]>::from_datum(datum, false).unwrap_or_default();
                RawBson::Binary(Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: bytes.to_vec() })
            }
            pg_sys::UUIDOID => {
                let uuid = pgrx::Uuid::from_datum(datum, false)
                    .ok_or_else(|| docdb_error!(InternalError, "null uuid datum"))?;
                RawBson::Binary(Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: uuid.as_bytes().to_vec() })
            }
            pg_sys::JSONOID | pg_sys::JSONBOID => {
                let text = output_text(datum, typoid);
                let wrapper = documentdb_bson::extjson::parse_document(&format!("{{ \"v\" : {text} }}"))?;
                match wrapper.get("v") {
                    Ok(Some(value)) => RawBson::from(value),
                    _ => RawBson::Null,
                }
            }
            _ if pg_sys::type_is_rowtype(typoid) => RawBson::Document(record_to_document(datum)?),
            _ => {
                let element_type = pg_sys::get_element_type(typoid);
                if element_type != pg_sys::InvalidOid {
                    RawBson::Array(array_to_bson(datum, element_type)?)
                } else {
                    RawBson::String(output_text(datum, typoid))
                }
            }
        })
    }
}

/// # Safety
/// `datum` must be a valid array whose elements have type `element_type`.
unsafe fn array_to_bson(datum: pg_sys::Datum, element_type: pg_sys::Oid) -> DocDbResult<RawArrayBuf> {
    let mut out = RawArrayBuf::new();
    // SAFETY: standard deconstruct_array usage on a detoasted array of `element_type`.
    unsafe {
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let mut typlen: i16 = 0;
        let mut typbyval = false;
        let mut typalign: std::ffi::c_char = 0;
        pg_sys::get_typlenbyvalalign(element_type, &mut typlen, &mut typbyval, &mut typalign);
        let mut elements: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut count: i32 = 0;
        pg_sys::deconstruct_array(
            array,
            element_type,
            i32::from(typlen),
            typbyval,
            typalign,
            &mut elements,
            &mut nulls,
            &mut count,
        );
        for i in 0..usize::try_from(count).unwrap_or(0) {
            let value = datum_to_bson(*elements.add(i), *nulls.add(i), element_type)?;
            out.push(value);
        }
    }
    Ok(out)
}

/// Converts a composite datum to a document keyed by its column names.
///
/// # Safety
/// `datum` must be a valid composite (row) datum.
pub(crate) unsafe fn record_to_document(datum: pg_sys::Datum) -> DocDbResult<RawDocumentBuf> {
    let mut doc = RawDocumentBuf::new();
    // SAFETY: the HeapTupleHeader of a composite datum carries its type id and typmod; the
    // looked-up tuple descriptor is pinned until ReleaseTupleDesc below.
    unsafe {
        let header = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let type_id = (*header).t_choice.t_datum.datum_typeid;
        let typmod = (*header).t_choice.t_datum.datum_typmod;
        let tupdesc = pg_sys::lookup_rowtype_tupdesc(type_id, typmod);
        let mut tuple = pg_sys::HeapTupleData {
            t_len: pgrx::varsize(header as *const pg_sys::varlena) as u32,
            t_self: pg_sys::ItemPointerData::default(),
            t_tableOid: pg_sys::InvalidOid,
            t_data: header,
        };
        let natts = (*tupdesc).natts;
        let mut result = Ok(());
        for attno in 0..natts {
            let attr = (*tupdesc).attrs.as_slice(natts as usize)[attno as usize];
            if attr.attisdropped {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(attr.attname.data.as_ptr()).to_string_lossy();
            let mut is_null = false;
            let value = pg_sys::heap_getattr(&mut tuple, attno + 1, tupdesc, &mut is_null);
            match datum_to_bson(value, is_null, attr.atttypid).and_then(|v| bson_key(&name).map(|k| (k, v))) {
                Ok((key, value)) => doc.append(key, value),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if (*tupdesc).tdrefcount >= 0 {
            pg_sys::DecrTupleDescRefCount(tupdesc);
        }
        result?;
    }
    Ok(doc)
}

/// The OID of the text type, for callers that need to check a key argument's type.
pub(crate) fn is_text_like(typoid: pg_sys::Oid) -> bool {
    matches!(typoid, pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID | pg_sys::NAMEOID | pg_sys::UNKNOWNOID)
        || typoid == String::type_oid()
}
