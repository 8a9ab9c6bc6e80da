//! Reading command documents the way MongoDB's IDL does: known fields with typed values,
//! generic fields (sessions, read/write concern, API version...) accepted, anything else
//! rejected with "BSON field '<cmd>.<field>' is an unknown field." (code 40415).

use bson::{RawArray, RawBsonRef, RawDocument};
use documentdb_bson::type_name;
use documentdb_errors::{bail, DocDbError, DocDbResult, ErrorCode};

/// MongoDB's IDL error for unknown fields.
pub const UNKNOWN_FIELD: ErrorCode = ErrorCode::new(40415);
/// MongoDB's IDL error for missing required fields.
pub const MISSING_FIELD: ErrorCode = ErrorCode::new(40414);

/// Fields every command may carry; they are handled by the gateway or have no effect on a
/// standalone server (replication, sharding, auditing metadata).
pub const GENERIC_FIELDS: &[&str] = &[
    "$db",
    "lsid",
    "txnNumber",
    "autocommit",
    "startTransaction",
    "stmtId",
    "$clusterTime",
    "$readPreference",
    "readConcern",
    "writeConcern",
    "comment",
    "maxTimeMS",
    "apiVersion",
    "apiStrict",
    "apiDeprecationErrors",
    "$audit",
    "$client",
    "$configServerState",
    "$gleStats",
    "$topologyTime",
    "$replData",
    "$oplogQueryData",
    "mayBypassWriteBlocking",
    "databaseVersion",
    "shardVersion",
    "clientOperationKey",
    "$configTime",
    "$queryOptions",
];

/// A field of a command being read, for typed accessors with MongoDB's error messages.
pub struct Field<'a> {
    pub command: &'a str,
    pub name: &'a str,
    pub value: RawBsonRef<'a>,
}

impl<'a> Field<'a> {
    /// A `collation` option: only MongoDB's binary comparison (`{}` or `{locale: "simple"}`)
    /// is supported yet; anything else is refused, never silently ignored.
    pub fn simple_collation(&self) -> DocDbResult<()> {
        let doc = self.document()?;
        if doc.is_empty() || doc.get_str("locale").ok() == Some("simple") {
            return Ok(());
        }
        Err(DocDbError::new(ErrorCode::CommandNotSupported, "collation other than 'simple' is not supported"))
    }

    fn wrong_type(&self, expected: &str) -> DocDbError {
        DocDbError::new(
            ErrorCode::TypeMismatch,
            format!(
                "BSON field '{}.{}' is the wrong type '{}', expected type{} '{}'",
                self.command,
                self.name,
                type_name(self.value.element_type()),
                if expected.starts_with('[') { "s" } else { "" },
                expected
            ),
        )
    }

    pub fn str(&self) -> DocDbResult<&'a str> {
        match self.value {
            RawBsonRef::String(s) => Ok(s),
            _ => Err(self.wrong_type("string")),
        }
    }

    pub fn document(&self) -> DocDbResult<&'a RawDocument> {
        match self.value {
            RawBsonRef::Document(d) => Ok(d),
            _ => Err(self.wrong_type("object")),
        }
    }

    pub fn array(&self) -> DocDbResult<&'a RawArray> {
        match self.value {
            RawBsonRef::Array(a) => Ok(a),
            _ => Err(self.wrong_type("array")),
        }
    }

    /// Booleans as MongoDB's IDL reads them: bool, or any number (non-zero = true).
    pub fn bool(&self) -> DocDbResult<bool> {
        match self.value {
            RawBsonRef::Boolean(b) => Ok(b),
            RawBsonRef::Int32(i) => Ok(i != 0),
            RawBsonRef::Int64(i) => Ok(i != 0),
            RawBsonRef::Double(d) => Ok(d != 0.0),
            RawBsonRef::Null | RawBsonRef::Undefined => Ok(false),
            _ => Err(self.wrong_type("bool")),
        }
    }

    /// Integral numbers (any numeric type holding an integral value).
    pub fn i64(&self) -> DocDbResult<i64> {
        match self.value {
            RawBsonRef::Int32(i) => Ok(i64::from(i)),
            RawBsonRef::Int64(i) => Ok(i),
            RawBsonRef::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => Ok(d as i64),
            RawBsonRef::Double(_) => bail!(
                BadValue,
                "BSON field '{}.{}' value must be an integral number, got {:?}",
                self.command,
                self.name,
                self.value
            ),
            RawBsonRef::Decimal128(d) => d
                .to_string()
                .parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
                .ok_or_else(|| self.wrong_type("[long, int, decimal, double]")),
            _ => Err(self.wrong_type("[long, int, decimal, double]")),
        }
    }

    /// A non-negative integral number.
    pub fn non_negative(&self) -> DocDbResult<i64> {
        let v = self.i64()?;
        if v < 0 {
            bail!(BadValue, "BSON field '{}.{}' value must be >= 0, actual value '{}'", self.command, self.name, v);
        }
        Ok(v)
    }

    /// A document or null/missing-as-none.
    pub fn optional_document(&self) -> DocDbResult<Option<&'a RawDocument>> {
        match self.value {
            RawBsonRef::Null | RawBsonRef::Undefined => Ok(None),
            _ => self.document().map(Some),
        }
    }
}

/// Walks the fields of command document `doc` whose first field names the command. `f`
/// returns `Ok(true)` when it consumed a field; generic fields are skipped; anything else
/// is an unknown-field error.
pub fn read_fields<'a>(
    doc: &'a RawDocument,
    command: &'a str,
    mut f: impl FnMut(Field<'a>) -> DocDbResult<bool>,
) -> DocDbResult<()> {
    for (position, element) in doc.iter().enumerate() {
        let (name, value) = element.map_err(|e| DocDbError::new(ErrorCode::InvalidBSON, e.to_string()))?;
        let name = name.as_str();
        if position == 0 {
            continue; // the command name itself, read by the caller
        }
        if f(Field { command, name, value })? {
            continue;
        }
        if GENERIC_FIELDS.contains(&name) {
            continue;
        }
        return Err(DocDbError::new(UNKNOWN_FIELD, format!("BSON field '{command}.{name}' is an unknown field.")));
    }
    Ok(())
}

/// The database a command runs on (its `$db`; `admin` when absent, as for psql callers
/// that leave it out).
pub fn command_db(spec_doc: &RawDocument) -> &str {
    spec_doc.get_str("$db").unwrap_or("admin")
}

/// The value of the command's first field (e.g. the collection name of `find: "c"`).
pub fn command_target<'a>(doc: &'a RawDocument, command: &str) -> DocDbResult<RawBsonRef<'a>> {
    match doc.iter().next() {
        Some(Ok((name, value))) if name.as_str() == command => Ok(value),
        _ => bail!(FailedToParse, "Command document must start with the '{command}' field"),
    }
}

/// The collection a command targets: its first field as a string.
pub fn collection_name<'a>(doc: &'a RawDocument, command: &str) -> DocDbResult<&'a str> {
    match command_target(doc, command)? {
        RawBsonRef::String(s) => Ok(s),
        other => Err(DocDbError::new(
            ErrorCode::InvalidNamespace,
            format!("collection name has invalid type {}", type_name(other.element_type())),
        )),
    }
}

/// Error for a required field that is absent.
pub fn missing(command: &str, field: &str) -> DocDbError {
    DocDbError::new(MISSING_FIELD, format!("BSON field '{command}.{field}' is missing but a required field"))
}
