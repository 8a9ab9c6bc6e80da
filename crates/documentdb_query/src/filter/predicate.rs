//! The predicates a path's values are tested with that other matchers reuse (`$jsonSchema`
//! keywords): comparisons with type bracketing, and regular expressions.

use std::cmp::Ordering;
use std::sync::Arc;

use bson::spec::ElementType;
use bson::{RawBson, RawBsonRef};
use documentdb_bson::compare::canonical_type_rank;
use documentdb_bson::raw_reader::Item;
use documentdb_bson::{compare_documents, compare_values};
use documentdb_errors::{docdb_error, DocDbError, DocDbResult, ErrorCode};

use super::util::is_nan;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

/// `$eq`/`$lt`/`$lte`/`$gt`/`$gte` against a constant.
#[derive(Debug, Clone)]
pub(crate) struct Cmp {
    pub(crate) op: CmpOp,
    pub(crate) rhs: RawBson,
    rank: i32,
    rhs_nan: bool,
}

/// A compiled regular expression predicate (`/re/flags`, `$regex`).
#[derive(Debug, Clone)]
pub(crate) struct RegexPred {
    pub(crate) pattern: String,
    pub(crate) flags: String,
    pub(crate) re: Arc<pcre2::bytes::Regex>,
}

impl Cmp {
    pub(crate) fn new(op: CmpOp, rhs: RawBsonRef<'_>) -> DocDbResult<Cmp> {
        if rhs.element_type() == ElementType::Undefined {
            return Err(docdb_error!(BadValue, "cannot compare to undefined"));
        }
        Ok(Cmp { op, rank: canonical_type_rank(rhs.element_type()), rhs_nan: is_nan(rhs), rhs: RawBson::from(rhs) })
    }

    /// The result for a value whose canonical type rank differs from the operand's:
    /// different types never compare, except that null matches undefined and missing for
    /// $eq/$lte/$gte, and MinKey/MaxKey bound everything.
    #[inline]
    pub(crate) fn cross_type(&self, rank: i32) -> bool {
        if rank + self.rank == 5 {
            return matches!(self.op, CmpOp::Eq | CmpOp::Lte | CmpOp::Gte);
        }
        match self.rhs {
            RawBson::MaxKey => matches!(self.op, CmpOp::Lt | CmpOp::Lte),
            RawBson::MinKey => matches!(self.op, CmpOp::Gt | CmpOp::Gte),
            _ => false,
        }
    }

    /// MongoDB's `ComparisonMatchExpression::matchesSingleElement`.
    pub(crate) fn matches(&self, value: Option<RawBsonRef<'_>>) -> bool {
        let Some(value) = value else {
            return self.cross_type(0);
        };
        let rank = canonical_type_rank(value.element_type());
        if rank != self.rank {
            return self.cross_type(rank);
        }
        let op = self.op;
        if op != CmpOp::Eq {
            let lhs_nan = is_nan(value);
            if lhs_nan || self.rhs_nan {
                return match op {
                    CmpOp::Lte | CmpOp::Gte => lhs_nan && self.rhs_nan,
                    _ => false,
                };
            }
        }
        let ord = compare_values(value, self.rhs.as_raw_bson_ref());
        match op {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Lte => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Gte => ord != Ordering::Less,
        }
    }

    /// [`Cmp::matches`] on a matcher item: an array is only materialized when the operand
    /// is an array too.
    #[inline]
    pub(crate) fn matches_item(&self, item: Option<Item<'_>>) -> bool {
        match item {
            None => self.cross_type(0),
            Some(Item::Value(v)) => self.matches(Some(v)),
            Some(Item::Array(arr)) => {
                if self.rank != ARRAY_RANK {
                    return self.cross_type(ARRAY_RANK);
                }
                let ord = cmp_with_array(&self.rhs, arr.doc);
                match self.op {
                    CmpOp::Eq => ord == Ordering::Equal,
                    CmpOp::Lt => ord == Ordering::Greater,
                    CmpOp::Lte => ord != Ordering::Less,
                    CmpOp::Gt => ord == Ordering::Less,
                    CmpOp::Gte => ord != Ordering::Greater,
                }
            }
        }
    }
}

/// MongoDB's canonical type rank of arrays.
const ARRAY_RANK: i32 = 25;

/// MongoDB's order of the constant `probe` relative to an array given by its document
/// view: arrays compare element by element exactly as their documents do.
pub(crate) fn cmp_with_array(probe: &RawBson, arr: &bson::RawDocument) -> Ordering {
    match probe {
        RawBson::Array(p) => compare_documents(documentdb_bson::raw_reader::array_document(p), arr),
        other => canonical_type_rank(other.element_type()).cmp(&ARRAY_RANK),
    }
}

impl RegexPred {
    /// MongoDB's `RegexMatchExpression::matchesSingleElement`: strings and symbols by the
    /// pattern, regex values by identical pattern and flags.
    pub(crate) fn matches(&self, value: Option<RawBsonRef<'_>>) -> bool {
        match value {
            Some(RawBsonRef::String(s)) | Some(RawBsonRef::Symbol(s)) => {
                self.re.is_match(s.as_bytes()).unwrap_or(false)
            }
            Some(RawBsonRef::RegularExpression(r)) => {
                r.pattern.as_str() == self.pattern && r.options.as_str() == self.flags
            }
            _ => false,
        }
    }
}

/// Compiles a MongoDB regex (PCRE, UTF mode; flags i m s x u).
pub(crate) fn compile_regex(pattern: &str, flags: &str) -> DocDbResult<RegexPred> {
    if pattern.contains('\0') {
        return Err(docdb_error!(BadValue, "Regular expression cannot contain an embedded null byte"));
    }
    let mut builder = pcre2::bytes::RegexBuilder::new();
    builder.utf(true).jit_if_available(true);
    for flag in flags.chars() {
        match flag {
            'i' => {
                builder.caseless(true);
            }
            'm' => {
                builder.multi_line(true);
            }
            's' => {
                builder.dotall(true);
            }
            'x' => {
                builder.extended(true);
            }
            'u' => {}
            other => {
                return Err(DocDbError::new(ErrorCode::new(51108), format!("invalid flag in regex options: {other}")))
            }
        }
    }
    let re = builder.build(pattern).map_err(|e| {
        let text = e.to_string();
        let reason = text.splitn(3, ": ").nth(2).unwrap_or(&text).to_string();
        DocDbError::new(ErrorCode::new(51091), format!("Regular expression is invalid: {reason}"))
    })?;
    Ok(RegexPred { pattern: pattern.to_string(), flags: flags.to_string(), re: Arc::new(re) })
}
