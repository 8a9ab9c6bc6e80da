//! The parsed filter tree and its evaluation over borrowed documents.
//!
//! Leaf predicates follow MongoDB's `matchesSingleElement` of the corresponding match
//! expression (src/mongo/db/matcher/expression_leaf.cpp, expression_array.cpp,
//! expression_type.cpp); a leaf with a path matches a document when any element the path
//! reaches (see [`super::path`]) satisfies the predicate.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use bson::spec::ElementType;
use bson::{Bson, RawBson, RawBsonRef, RawDocumentBuf};
use documentdb_bson::compare_values;
use documentdb_bson::number::{decimal_parts, Number};
use documentdb_errors::{docdb_error, DocDbResult};

use documentdb_bson::raw_reader::{ArrayRef, Item};

use super::json_schema::JsonSchema;
use super::path::{walk, Path, Root};
use super::predicate::{cmp_with_array, Cmp, RegexPred};
use super::util::{truncate_decimal, truncate_f64, TypeSet};
use crate::expr::Expression;

/// A node of the filter tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Nor(Vec<Node>),
    Not(Box<Node>),
    Leaf(Box<Leaf>),
    Expr(Box<Expression>),
    Schema(Box<JsonSchema>),
    /// `$sampleRate` strictly between 0 and 1.
    SampleRate(f64),
    True,
    False,
}

/// A predicate on the values a path reaches.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub(crate) path: Path,
    pub(crate) pred: Pred,
}

/// `$in`: equalities sorted by MongoDB's order for binary search, plus regexes.
#[derive(Debug, Clone)]
pub(crate) struct InList {
    pub(crate) has_null: bool,
    /// Whether some equality is an array (only then are array values materialized).
    pub(crate) has_arrays: bool,
    pub(crate) values: Vec<RawBson>,
    pub(crate) regexes: Vec<RegexPred>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BitKind {
    AllSet,
    AllClear,
    AnySet,
    AnyClear,
}

/// `$bitsAllSet` and friends.
#[derive(Debug, Clone)]
pub(crate) struct BitTest {
    pub(crate) kind: BitKind,
    /// Mask applied to numbers (positions above 63 test the sign bit, 63).
    pub(crate) mask: u64,
    /// Positions tested on BinData values.
    pub(crate) positions: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) enum Pred {
    Cmp(Cmp),
    In(Box<InList>),
    Regex(RegexPred),
    Exists,
    Type(TypeSet),
    Mod { divisor: i64, remainder: i64 },
    Bits(BitTest),
    Size(i64),
    ElemMatchObject(Box<Node>),
    ElemMatchValue(Vec<Node>),
}

impl InList {
    /// Sorts and deduplicates the equalities.
    pub(crate) fn finish(&mut self) {
        self.values.sort_by(|a, b| compare_values(a.as_raw_bson_ref(), b.as_raw_bson_ref()));
        self.values.dedup_by(|a, b| compare_values(a.as_raw_bson_ref(), b.as_raw_bson_ref()) == Ordering::Equal);
        self.has_arrays = self.values.iter().any(|v| matches!(v, RawBson::Array(_)));
    }

    pub(crate) fn contains(&self, value: RawBsonRef<'_>) -> bool {
        self.values.binary_search_by(|probe| compare_values(probe.as_raw_bson_ref(), value)).is_ok()
    }

    /// MongoDB's `InMatchExpression::matchesSingleElement`.
    fn matches_item(&self, item: Option<Item<'_>>) -> bool {
        match item {
            None | Some(Item::Value(RawBsonRef::Undefined)) if self.has_null => true,
            None => false,
            Some(Item::Value(v)) => self.contains(v) || self.regexes.iter().any(|r| r.matches(Some(v))),
            Some(Item::Array(arr)) => {
                self.has_arrays && self.values.binary_search_by(|probe| cmp_with_array(probe, arr.doc)).is_ok()
            }
        }
    }
}

impl BitTest {
    fn test_number(&self, v: i64) -> bool {
        let v = v as u64;
        match self.kind {
            BitKind::AllSet => v & self.mask == self.mask,
            BitKind::AllClear => !v & self.mask == self.mask,
            BitKind::AnySet => v & self.mask != 0,
            BitKind::AnyClear => !v & self.mask != 0,
        }
    }

    fn test_binary(&self, bytes: &[u8]) -> bool {
        let mut all = true;
        let mut any = false;
        for &pos in &self.positions {
            let byte = bytes.get((pos / 8) as usize).copied().unwrap_or(0);
            let set = byte & (1u8 << (pos % 8)) != 0;
            let hit = match self.kind {
                BitKind::AllSet | BitKind::AnySet => set,
                BitKind::AllClear | BitKind::AnyClear => !set,
            };
            all &= hit;
            any |= hit;
        }
        match self.kind {
            BitKind::AllSet | BitKind::AllClear => all,
            BitKind::AnySet | BitKind::AnyClear => any,
        }
    }

    /// Only integral numbers representable as int64 (negative ones as two's complement)
    /// and BinData values can match.
    fn matches(&self, value: Option<RawBsonRef<'_>>) -> bool {
        match value {
            Some(RawBsonRef::Binary(b)) => self.test_binary(b.bytes),
            Some(v) => match Number::from_raw(v).and_then(|n| n.as_i64_exact()) {
                Some(i) => self.test_number(i),
                None => false,
            },
            None => false,
        }
    }
}

/// MongoDB's `ModMatchExpression::matchesSingleElement` (7.0): the dividend is truncated
/// toward zero; NaN, infinities and values outside int64 never match.
fn mod_matches(value: Option<RawBsonRef<'_>>, divisor: i64, remainder: i64) -> bool {
    let dividend = match value {
        Some(RawBsonRef::Int32(i)) => i64::from(i),
        Some(RawBsonRef::Int64(i)) => i,
        Some(RawBsonRef::Double(d)) if d.is_finite() => match truncate_f64(d) {
            Some(i) => i,
            None => return false,
        },
        Some(RawBsonRef::Decimal128(d)) => match truncate_decimal(&decimal_parts(&d)) {
            Some(i) => i,
            None => return false,
        },
        _ => return false,
    };
    dividend.wrapping_rem(divisor) == remainder
}

impl Pred {
    /// Whether an array at the end of the path is also traversed element by element.
    #[inline]
    pub(crate) fn leaf_traversal(&self) -> bool {
        !matches!(self, Pred::Size(_) | Pred::ElemMatchObject(_) | Pred::ElemMatchValue(_))
    }

    /// Does one value (`None` = missing) satisfy the predicate? `key` receives the array
    /// index an `$elemMatch` matched at.
    pub(crate) fn matches(&self, item: Option<Item<'_>>, key: &mut Option<usize>) -> bool {
        let plain = match item {
            Some(Item::Value(v)) => Some(v),
            _ => None,
        };
        match self {
            Pred::Cmp(c) => c.matches_item(item),
            Pred::In(list) => list.matches_item(item),
            Pred::Regex(r) => r.matches(plain),
            Pred::Exists => item.is_some(),
            Pred::Type(t) => match item {
                None => false,
                Some(Item::Array(_)) => t.contains(ElementType::Array),
                Some(Item::Value(v)) => t.contains(v.element_type()),
            },
            Pred::Mod { divisor, remainder } => mod_matches(plain, *divisor, *remainder),
            Pred::Bits(b) => b.matches(plain),
            Pred::Size(n) => match item {
                Some(Item::Array(arr)) => arr.len() as i64 == *n,
                Some(Item::Value(RawBsonRef::Array(arr))) => ArrayRef::from_raw(arr).len() as i64 == *n,
                _ => false,
            },
            Pred::ElemMatchObject(sub) => {
                let Some(arr) = as_array(item) else {
                    return false;
                };
                for (idx, element) in arr.items().enumerate() {
                    let doc = match element {
                        Item::Value(RawBsonRef::Document(d)) => d,
                        Item::Array(a) => a.doc,
                        _ => continue,
                    };
                    let mut ignored = None;
                    if sub.eval(Root::Doc(doc), &mut ignored).unwrap_or(false) {
                        *key = Some(idx);
                        return true;
                    }
                }
                false
            }
            Pred::ElemMatchValue(subs) => {
                let Some(arr) = as_array(item) else {
                    return false;
                };
                for (idx, element) in arr.items().enumerate() {
                    let mut ignored = None;
                    if subs.iter().all(|s| s.matches_single(Some(element), &mut ignored)) {
                        *key = Some(idx);
                        return true;
                    }
                }
                false
            }
        }
    }
}

#[inline]
fn as_array(item: Option<Item<'_>>) -> Option<ArrayRef<'_>> {
    match item {
        Some(Item::Array(arr)) => Some(arr),
        Some(Item::Value(RawBsonRef::Array(arr))) => Some(ArrayRef::from_raw(arr)),
        _ => None,
    }
}

impl Leaf {
    /// Any value the path reaches satisfies the predicate. On a match `key` receives the
    /// positional index (outermost array offset, else an `$elemMatch`'s own index).
    #[inline]
    pub(crate) fn eval(&self, root: Root<'_>, key: &mut Option<usize>) -> bool {
        let mut hit: Option<usize> = None;
        let pred = &self.pred;
        let matched = walk(root, &self.path, pred.leaf_traversal(), &mut |value, offset| {
            let mut inner = None;
            if pred.matches(value, &mut inner) {
                hit = offset.or(inner);
                true
            } else {
                false
            }
        });
        if matched && hit.is_some() {
            *key = hit;
        }
        matched
    }
}

thread_local! {
    static SAMPLE_STATE: Cell<u64> = Cell::new({
        let seed = RandomState::new().build_hasher().finish();
        seed | 1
    });
}

/// A uniform sample in [0, 1) (xorshift64*), for `$sampleRate`.
fn random_unit() -> f64 {
    SAMPLE_STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// MongoDB's truthiness of an aggregation result (`Value::coerceToBool`).
pub(crate) fn expr_truthy(value: &Option<Bson>) -> bool {
    match value {
        None | Some(Bson::Null) | Some(Bson::Undefined) => false,
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        Some(Bson::Double(d)) => *d != 0.0,
        Some(Bson::Decimal128(d)) => {
            let p = decimal_parts(d);
            !(p.is_finite() && p.coefficient == 0)
        }
        Some(_) => true,
    }
}

/// The document a virtual single-field root stands for.
fn materialize(root: Root<'_>) -> DocDbResult<RawDocumentBuf> {
    match root {
        Root::Doc(doc) => Ok(doc.to_owned()),
        Root::Field(name, value) => {
            let mut doc = RawDocumentBuf::new();
            let key: &bson::raw::CStr =
                name.try_into().map_err(|_| docdb_error!(BadValue, "invalid field name: {name}"))?;
            doc.append(key, value);
            Ok(doc)
        }
    }
}

impl Node {
    /// Evaluates against a document (or virtual single-field document). `key` receives the
    /// positional index as MongoDB's `MatchDetails::elemMatchKey` would (later `$and`
    /// children overwrite earlier ones; negations record nothing).
    pub(crate) fn eval(&self, root: Root<'_>, key: &mut Option<usize>) -> DocDbResult<bool> {
        Ok(match self {
            Node::Leaf(leaf) => leaf.eval(root, key),
            Node::And(children) => {
                documentdb_bson::stack::guard()?;
                for child in children {
                    if !child.eval(root, key)? {
                        return Ok(false);
                    }
                }
                true
            }
            Node::Or(children) => {
                documentdb_bson::stack::guard()?;
                for child in children {
                    if child.eval(root, key)? {
                        return Ok(true);
                    }
                }
                false
            }
            Node::Nor(children) => {
                documentdb_bson::stack::guard()?;
                let mut ignored = None;
                for child in children {
                    if child.eval(root, &mut ignored)? {
                        return Ok(false);
                    }
                }
                true
            }
            Node::Not(child) => {
                documentdb_bson::stack::guard()?;
                let mut ignored = None;
                !child.eval(root, &mut ignored)?
            }
            Node::Expr(expr) => {
                let value = match root {
                    Root::Doc(doc) => expr.evaluate(doc)?,
                    Root::Field(..) => expr.evaluate(&materialize(root)?)?,
                };
                expr_truthy(&value)
            }
            Node::Schema(schema) => match root {
                Root::Doc(doc) => schema.validate(doc),
                Root::Field(..) => schema.validate(&materialize(root)?),
            },
            Node::SampleRate(rate) => random_unit() < *rate,
            Node::True => true,
            Node::False => false,
        })
    }

    /// MongoDB's `matchesSingleElement` for the children of an `$elemMatch` value
    /// predicate: the predicate applies to the element itself, without path traversal.
    pub(crate) fn matches_single(&self, value: Option<Item<'_>>, key: &mut Option<usize>) -> bool {
        match self {
            Node::Leaf(leaf) => leaf.pred.matches(value, key),
            Node::And(children) => children.iter().all(|c| c.matches_single(value, key)),
            Node::Not(child) => {
                let mut ignored = None;
                !child.matches_single(value, &mut ignored)
            }
            Node::True => true,
            _ => false,
        }
    }

    /// Whether the subtree evaluates `$expr` (evaluation can fail).
    pub(crate) fn has_expr(&self) -> bool {
        match self {
            Node::Expr(_) => true,
            Node::And(c) | Node::Or(c) | Node::Nor(c) => c.iter().any(Node::has_expr),
            Node::Not(c) => c.has_expr(),
            _ => false,
        }
    }
}
