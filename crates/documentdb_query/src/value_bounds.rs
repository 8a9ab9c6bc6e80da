//! Bounds on the values evaluation builds at run time: nesting depth and memory.
//!
//! Expressions and accumulators build owned `bson::Bson` values. Without bounds, an
//! expression such as `$reduce` over `$range: [0, 30]` with
//! `in: {$concatArrays: ["$$value", "$$value"]}` doubles its value at every step until an
//! allocation fails, and a failed allocation aborts the whole PostgreSQL server. This
//! module holds the limits and the one walker that measures a value.
//!
//! Two ways of counting ([`Accounting`]):
//! * what accumulators hold, and the computed fields of a projection, are counted as
//!   MongoDB counts them (`Value::getApproximateSize`), so that `$push`, `$addToSet`, the
//!   `n` accumulators and any document MongoDB could return are accepted: they grow with
//!   the input only;
//! * what expressions build is counted as the memory of the decoded values, because every
//!   reference to a variable copies its value: a value of 100 MiB referenced twice is
//!   three copies in memory. Counted as MongoDB does, a value at the limit could take
//!   seven times as much real memory (a `bson::Bson` is 112 bytes, MongoDB's `Value` 16).
//!
//! Each operator that builds a value larger than its inputs checks what it builds while
//! it builds it ([`SizeBudget`]), measuring each input once; operators whose result is at
//! most as large as one input (`$slice`, `$filter`, `$reverseArray`, `$sortArray`,
//! `$arrayToObject`, `$getField`, ...) need no check, as the value they copy was bounded
//! when it was built.
use bson::{Bson, Document};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

/// Largest size of one value an expression builds, of the variables bound at one time,
/// and of what one accumulator holds: 100 MiB, the default of MongoDB's
/// `internalQueryMaxRangeBytes`, `internalQueryMaxPushBytes`,
/// `internalQueryMaxAddToSetBytes`, `internalQueryTopNAccumulatorBytes` and of its
/// `$map`/`$reduce` limit.
pub(crate) const MAX_VALUE_BYTES: usize = 100 * 1024 * 1024;

/// MongoDB's `BSONObjMaxUserSize`: a string value must be smaller (with a small header,
/// see [`check_string_length`]).
const MAX_USER_BSON_SIZE: usize = 16 * 1024 * 1024;

/// Header MongoDB's `RCString::create` counts with a string's bytes and its NUL.
const STRING_HEADER: usize = 16;

/// How the size of a value is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accounting {
    /// As MongoDB's `Value::getApproximateSize`: 16 bytes a value plus the bytes of
    /// strings, binary data and field names.
    MongoDb,
    /// The memory of the decoded `bson::Bson` values: the enum itself, a document field's
    /// map entry and the same payload bytes.
    Decoded,
}

impl Accounting {
    /// Bytes of one value besides its payload.
    #[inline]
    pub(crate) const fn value_overhead(self) -> usize {
        match self {
            Accounting::MongoDb => 16,
            Accounting::Decoded => std::mem::size_of::<Bson>(),
        }
    }

    /// Bytes of a document field besides its name and value (the key's `String` and the
    /// map's hash and index).
    #[inline]
    const fn field_overhead(self) -> usize {
        match self {
            Accounting::MongoDb => 0,
            Accounting::Decoded => std::mem::size_of::<String>() + 16,
        }
    }
}

/// Why [`measure`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// A container nests deeper than the depth limit.
    Depth,
    /// The approximate size passed the byte limit.
    Size,
}

/// A container inside a value.
enum Container<'a> {
    Document(&'a Document),
    Array(&'a [Bson]),
}

fn container(v: &Bson) -> Option<Container<'_>> {
    match v {
        Bson::Document(d) => Some(Container::Document(d)),
        Bson::Array(a) => Some(Container::Array(a)),
        Bson::JavaScriptCodeWithScope(c) => Some(Container::Document(&c.scope)),
        _ => None,
    }
}

/// The size of `v` itself, without the values it contains.
#[inline]
fn own_size(v: &Bson, accounting: Accounting) -> usize {
    accounting.value_overhead()
        + match v {
            Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => s.len(),
            Bson::Binary(b) => b.bytes.len(),
            Bson::RegularExpression(r) => r.pattern.as_str().len() + r.options.as_str().len(),
            Bson::JavaScriptCodeWithScope(c) => c.code.len(),
            _ => 0,
        }
}

/// Measures `value`: its size, stopping as soon as it passes `max_bytes` or a container
/// nests deeper than `max_depth` (the value itself is at depth 0, the containers in it at
/// depth 1, ..., as `documentdb_bson::validate` counts). Iterative, so safe on values of
/// any depth, and never walks further than the limits.
pub(crate) fn measure(
    value: &Bson,
    accounting: Accounting,
    max_bytes: usize,
    max_depth: usize,
) -> Result<usize, Exceeded> {
    let size = own_size(value, accounting);
    if size > max_bytes {
        return Err(Exceeded::Size);
    }
    match container(value) {
        Some(root) => measure_contents(root, accounting, size, max_bytes, max_depth),
        None => Ok(size),
    }
}

/// [`measure`] of the values in a container, adding to `size`.
fn measure_contents(
    root: Container<'_>,
    accounting: Accounting,
    mut size: usize,
    max_bytes: usize,
    max_depth: usize,
) -> Result<usize, Exceeded> {
    let field = accounting.field_overhead();
    // Nested containers wait here: no allocation for a flat document or array.
    let mut pending = Vec::new();
    let mut next = Some((root, 0usize));
    while let Some((c, depth)) = next.take().or_else(|| pending.pop()) {
        let (fields, items) = match c {
            Container::Document(d) => (Some(d), None),
            Container::Array(a) => (None, Some(a)),
        };
        let children = fields
            .into_iter()
            .flat_map(|d| d.iter().map(|(k, v)| (field + k.len(), v)))
            .chain(items.into_iter().flat_map(|a| a.iter().map(|v| (0, v))));
        for (key_size, child) in children {
            size = size.saturating_add(key_size + own_size(child, accounting));
            if size > max_bytes {
                return Err(Exceeded::Size);
            }
            if let Some(inner) = container(child) {
                if depth + 1 > max_depth {
                    return Err(Exceeded::Depth);
                }
                pending.push((inner, depth + 1));
            }
        }
    }
    Ok(size)
}

/// The size of a value as MongoDB counts it (for what accumulators hold).
pub(crate) fn approximate_size(value: &Bson) -> usize {
    measure(value, Accounting::MongoDb, usize::MAX, usize::MAX).unwrap_or(usize::MAX)
}

/// The memory of a decoded value (for what expressions build).
pub(crate) fn decoded_size(value: &Bson) -> usize {
    measure(value, Accounting::Decoded, usize::MAX, usize::MAX).unwrap_or(usize::MAX)
}

/// Whether `value` nests documents/arrays deeper than `max` (see [`measure`]).
pub(crate) fn nesting_exceeds(value: &Bson, max: usize) -> bool {
    measure(value, Accounting::MongoDb, usize::MAX, max) == Err(Exceeded::Depth)
}

/// MongoDB's check when a value built at run time is converted to BSON: Overflow, nested
/// deeper than [`MAX_VALUE_DEPTH`](documentdb_bson::MAX_VALUE_DEPTH).
pub(crate) fn check_value_depth(value: &Bson) -> DocDbResult<()> {
    if nesting_exceeds(value, documentdb_bson::MAX_VALUE_DEPTH) {
        return Err(value_too_deep());
    }
    Ok(())
}

/// [`check_value_depth`] for a document.
pub(crate) fn check_document_depth(doc: &Document) -> DocDbResult<()> {
    match measure_contents(
        Container::Document(doc),
        Accounting::MongoDb,
        0,
        usize::MAX,
        documentdb_bson::MAX_VALUE_DEPTH,
    ) {
        Err(Exceeded::Depth) => Err(value_too_deep()),
        _ => Ok(()),
    }
}

#[cold]
pub(crate) fn value_too_deep() -> DocDbError {
    DocDbError::new(
        ErrorCode::Overflow,
        format!(
            "cannot convert document to BSON because it exceeds the limit of {} levels of nesting",
            documentdb_bson::MAX_VALUE_DEPTH
        ),
    )
}

/// ExceededMemoryLimit for an operator whose result (or the variables it binds) would
/// pass [`MAX_VALUE_BYTES`].
#[cold]
pub(crate) fn value_too_large(op: &str) -> DocDbError {
    DocDbError::new(
        ErrorCode::ExceededMemoryLimit,
        format!(
            "{op} would use too much memory and cannot spill to disk: the value it builds exceeds the memory \
             limit of {MAX_VALUE_BYTES} bytes. Reduce the size or the number of the values it combines."
        ),
    )
}

/// MongoDB's check on a string value being created (`RCString::create`, error 16493):
/// the string, its NUL and a small header must stay under 16 MB.
pub(crate) fn check_string_length(len: usize) -> DocDbResult<()> {
    if len.saturating_add(1 + STRING_HEADER) >= MAX_USER_BSON_SIZE {
        return Err(DocDbError::new(
            ErrorCode::new(16493),
            format!("Tried to create string longer than {}MB", MAX_USER_BSON_SIZE / 1024 / 1024),
        ));
    }
    Ok(())
}

/// The memory an operator has used for the value it is building (counted as decoded
/// values): each input is measured once, as it is added, and never further than the room
/// left.
pub(crate) struct SizeBudget {
    op: &'static str,
    used: usize,
}

impl SizeBudget {
    /// A budget of [`MAX_VALUE_BYTES`] for `op`, starting with the result's own overhead.
    pub(crate) fn new(op: &'static str) -> SizeBudget {
        SizeBudget { op, used: Accounting::Decoded.value_overhead() }
    }

    /// Counts `bytes` more.
    #[inline]
    pub(crate) fn add_bytes(&mut self, bytes: usize) -> DocDbResult<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used > MAX_VALUE_BYTES {
            return Err(value_too_large(self.op));
        }
        Ok(())
    }

    /// The bytes counted so far (the size of the value built, when it is complete).
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Counts one value more whose size, when known (`built`), need not be measured again.
    #[inline]
    pub(crate) fn add_value_built(&mut self, value: &Bson, built: Option<usize>) -> DocDbResult<()> {
        match built {
            Some(size) => self.add_bytes(size),
            None => self.add_value(value),
        }
    }

    /// Counts one value more (an element or a piece of the result).
    #[inline]
    pub(crate) fn add_value(&mut self, value: &Bson) -> DocDbResult<()> {
        let room = MAX_VALUE_BYTES.saturating_sub(self.used);
        match measure(value, Accounting::Decoded, room, usize::MAX) {
            Ok(size) => {
                self.used += size;
                Ok(())
            }
            Err(_) => Err(value_too_large(self.op)),
        }
    }

    /// Counts a string value of `len` bytes more.
    #[inline]
    pub(crate) fn add_string(&mut self, len: usize) -> DocDbResult<()> {
        self.add_bytes(Accounting::Decoded.value_overhead() + len)
    }

    /// Counts a document field more: its name and value (see [`SizeBudget::add_value_built`]).
    #[inline]
    pub(crate) fn add_field(&mut self, name: &str, value: &Bson, built: Option<usize>) -> DocDbResult<()> {
        self.add_bytes(Accounting::Decoded.field_overhead() + name.len())?;
        self.add_value_built(value, built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::bson;

    #[test]
    fn mongodb_sizes_count_16_bytes_a_value_payload_and_field_names() {
        assert_eq!(approximate_size(&bson!(1)), 16);
        assert_eq!(approximate_size(&bson!("abc")), 16 + 3);
        assert_eq!(approximate_size(&bson!([1, "ab"])), 3 * 16 + 2);
        assert_eq!(approximate_size(&bson!({ "key": [1] })), 3 * 16 + 3);
    }

    #[test]
    fn decoded_sizes_count_the_enum_and_map_entries() {
        let value = std::mem::size_of::<Bson>();
        assert_eq!(decoded_size(&bson!(1)), value);
        assert_eq!(decoded_size(&bson!([1, "ab"])), 3 * value + 2);
        assert_eq!(decoded_size(&bson!({ "key": 1 })), 2 * value + std::mem::size_of::<String>() + 16 + 3);
    }

    #[test]
    fn measure_stops_at_the_first_limit_passed() {
        let v = bson!([[[1]]]);
        assert_eq!(measure(&v, Accounting::MongoDb, usize::MAX, 2), Ok(4 * 16));
        assert_eq!(measure(&v, Accounting::MongoDb, usize::MAX, 1), Err(Exceeded::Depth));
        assert_eq!(measure(&v, Accounting::MongoDb, 4 * 16 - 1, usize::MAX), Err(Exceeded::Size));
    }

    #[test]
    fn a_budget_refuses_what_passes_the_limit() {
        let one = Accounting::Decoded.value_overhead();
        let mut budget = SizeBudget::new("$op");
        budget.add_bytes(MAX_VALUE_BYTES - 2 * one).unwrap();
        budget.add_value(&bson!(1)).unwrap();
        let err = budget.add_value(&bson!(1)).unwrap_err();
        assert_eq!(err.code, ErrorCode::ExceededMemoryLimit);
        assert!(err.message.starts_with("$op would use too much memory"), "{}", err.message);
    }

    #[test]
    fn strings_stay_under_16_megabytes() {
        assert!(check_string_length(MAX_USER_BSON_SIZE - STRING_HEADER - 2).is_ok());
        let err = check_string_length(MAX_USER_BSON_SIZE - STRING_HEADER - 1).unwrap_err();
        assert_eq!((err.code.code(), err.message.as_str()), (16493, "Tried to create string longer than 16MB"));
    }
}
