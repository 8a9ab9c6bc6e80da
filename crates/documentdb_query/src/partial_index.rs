//! When a partial or sparse index may answer a query: every document the query matches must
//! be in the index, i.e. the query implies the index's filter. MongoDB's planner decides it
//! predicate by predicate ("the query must contain the filter expression, or a modified
//! filter expression that specifies a subset of it"): each AND-ed predicate of the index
//! filter is implied by a predicate of the query on the same path (`{rating: {$gte: 8}}`
//! implies `{rating: {$gt: 5}}`; `{a: 5}` implies `{a: {$exists: true}}`).

use std::cmp::Ordering;

use bson::{RawBson, RawBsonRef};
use documentdb_bson::compare::canonical_type_rank;
use documentdb_bson::compare_values;

use crate::filter::{Filter, PushdownOp, PushdownPredicate};

/// Whether every document matching `query` matches `index_filter`.
pub fn query_implies(query: &Filter, index_filter: &Filter) -> bool {
    if !index_filter.pushdown_is_complete() {
        return false;
    }
    let query_predicates = query.pushdown_predicates();
    index_filter.pushdown_predicates().iter().all(|needed| query_predicates.iter().any(|given| implies(given, needed)))
}

/// The values a predicate compares with (one, or the `$in` list).
fn operands(p: &PushdownPredicate) -> Vec<RawBsonRef<'_>> {
    match (&p.op, &p.value) {
        (PushdownOp::In, RawBson::Array(values)) => values.into_iter().flatten().collect(),
        (_, value) => vec![value.as_raw_bson_ref()],
    }
}

fn is_nullish(v: RawBsonRef<'_>) -> bool {
    matches!(v, RawBsonRef::Null | RawBsonRef::Undefined)
}

fn same_bracket(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> bool {
    canonical_type_rank(a.element_type()) == canonical_type_rank(b.element_type())
}

/// Does `given` (a predicate of the query) imply `needed` (one of the index filter's)?
fn implies(given: &PushdownPredicate, needed: &PushdownPredicate) -> bool {
    if given.path != needed.path {
        return false;
    }
    let given_values = operands(given);
    match needed.op {
        // Any comparison with a non-null value needs the field to exist.
        PushdownOp::Exists => match given.op {
            PushdownOp::Exists => true,
            _ => !given_values.is_empty() && given_values.iter().all(|v| !is_nullish(*v)),
        },
        PushdownOp::Eq | PushdownOp::In => {
            let allowed = operands(needed);
            matches!(given.op, PushdownOp::Eq | PushdownOp::In)
                && !given_values.is_empty()
                && given_values
                    .iter()
                    .all(|v| allowed.iter().any(|a| same_bracket(*v, *a) && compare_values(*v, *a) == Ordering::Equal))
        }
        PushdownOp::Gt | PushdownOp::Gte | PushdownOp::Lt | PushdownOp::Lte => {
            let bound = needed.value.as_raw_bson_ref();
            let upward = matches!(needed.op, PushdownOp::Gt | PushdownOp::Gte);
            // The query's values must sit on the allowed side of the bound, in its bracket:
            // a strict needed bound is met by a value beyond it, or by a strict bound at it.
            let beyond = |v: RawBsonRef<'_>, given_strict: bool| {
                if !same_bracket(v, bound) || is_nullish(v) {
                    return false;
                }
                let order = compare_values(v, bound);
                let order = if upward { order } else { order.reverse() };
                match order {
                    Ordering::Greater => true,
                    Ordering::Equal => given_strict || matches!(needed.op, PushdownOp::Gte | PushdownOp::Lte),
                    Ordering::Less => false,
                }
            };
            match given.op {
                PushdownOp::Eq | PushdownOp::In => {
                    !given_values.is_empty() && given_values.iter().all(|v| beyond(*v, false))
                }
                PushdownOp::Gt | PushdownOp::Gte if upward => beyond(given_values[0], given.op == PushdownOp::Gt),
                PushdownOp::Lt | PushdownOp::Lte if !upward => beyond(given_values[0], given.op == PushdownOp::Lt),
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    fn implied(query: &bson::RawDocument, index_filter: &bson::RawDocument) -> bool {
        query_implies(&Filter::parse(query).unwrap(), &Filter::parse(index_filter).unwrap())
    }

    // The manual's example: partialFilterExpression { rating: { $gt: 5 } }.
    #[test]
    fn ranges_within_the_filter_use_the_index() {
        let filter = rawdoc! { "rating": { "$gt": 5 } };
        assert!(implied(&rawdoc! { "rating": { "$gte": 8 } }, &filter));
        assert!(implied(&rawdoc! { "cuisine": "Italian", "rating": { "$gt": 5 } }, &filter));
        assert!(implied(&rawdoc! { "rating": 7 }, &filter));
        assert!(implied(&rawdoc! { "rating": { "$in": [6, 9.5] } }, &filter));
        assert!(!implied(&rawdoc! { "rating": { "$lt": 8 } }, &filter));
        assert!(!implied(&rawdoc! { "rating": { "$gte": 5 } }, &filter));
        assert!(!implied(&rawdoc! { "rating": 5 }, &filter));
        assert!(!implied(&rawdoc! { "rating": "9" }, &filter));
        assert!(!implied(&rawdoc! { "cuisine": "Italian" }, &filter));
        assert!(implied(&rawdoc! { "a": { "$lt": 3 } }, &rawdoc! { "a": { "$lte": 3 } }));
        assert!(!implied(&rawdoc! { "a": { "$lte": 3 } }, &rawdoc! { "a": { "$lt": 3 } }));
    }

    // A sparse index is a partial index on { path: { $exists: true } }.
    #[test]
    fn sparse_indexes_need_a_non_null_condition() {
        let sparse = rawdoc! { "a": { "$exists": true } };
        assert!(implied(&rawdoc! { "a": 5 }, &sparse));
        assert!(implied(&rawdoc! { "a": { "$gt": "k" } }, &sparse));
        assert!(implied(&rawdoc! { "a": { "$in": [1, 2] } }, &sparse));
        assert!(!implied(&rawdoc! { "a": null }, &sparse));
        assert!(!implied(&rawdoc! { "a": { "$in": [1, null] } }, &sparse));
        assert!(!implied(&rawdoc! { "a": { "$exists": false } }, &sparse));
        assert!(!implied(&rawdoc! { "a": { "$ne": 5 } }, &sparse));
        assert!(!implied(&rawdoc! {}, &sparse));
    }

    #[test]
    fn equality_filters_need_the_same_values() {
        let filter = rawdoc! { "status": "active", "n": { "$gte": 1 } };
        assert!(implied(&rawdoc! { "status": "active", "n": 3 }, &filter));
        assert!(!implied(&rawdoc! { "status": "active" }, &filter));
        assert!(!implied(&rawdoc! { "status": { "$in": ["active", "old"] }, "n": 3 }, &filter));
        assert!(!implied(&rawdoc! { "status": "active", "n": 3 }, &rawdoc! { "status": { "$regex": "^a" } }));
    }
}
