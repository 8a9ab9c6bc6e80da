//! Stages that MongoDB itself defines as other stages, parsed here and rewritten into the
//! stages the pipeline translator already runs in SQL:
//! * `$bucket` is `$group` on a `$switch` over the boundaries (mongod's
//!   `DocumentSourceBucket` desugars the same way, so its errors, 40066 for a value in no
//!   bucket without `default`, are the `$switch`'s) followed by `$sort: {_id: 1}`;
//! * `$sample` is a random order with a limit (every document at most once).

use std::cmp::Ordering;

use crate::spec_error::{invalid_bson, loc};
use bson::{rawdoc, RawArrayBuf, RawBson, RawBsonRef, RawDocumentBuf};
use documentdb_bson::compare::{canonical_type_rank, compare_values};
use documentdb_errors::DocDbResult;

/// The `$group` and `$sort` stages a `$bucket` stage stands for, with MongoDB's
/// validation of its arguments (40192 to 40202).
pub fn bucket_stages(spec: RawBsonRef<'_>) -> DocDbResult<(RawDocumentBuf, RawDocumentBuf)> {
    let RawBsonRef::Document(spec) = spec else {
        return Err(loc(40201, "Argument to $bucket stage must be an object"));
    };
    let (mut group_by, mut boundaries, mut default, mut output) = (None, None, None, None);
    for element in spec {
        let (key, value) = element.map_err(invalid_bson)?;
        match key.as_str() {
            "groupBy" => group_by = Some(value),
            "boundaries" => boundaries = Some(value),
            "default" => default = Some(value),
            "output" => output = Some(value),
            other => return Err(loc(40197, format!("Unrecognized option to $bucket: {other}."))),
        }
    }
    let (Some(group_by), Some(boundaries)) = (group_by, boundaries) else {
        return Err(loc(40198, "$bucket requires 'groupBy' and 'boundaries' to be specified."));
    };
    let is_expression = match group_by {
        RawBsonRef::String(s) => s.starts_with('$'),
        RawBsonRef::Document(_) => true,
        _ => false,
    };
    if !is_expression {
        return Err(loc(40202, "The $bucket 'groupBy' field must be defined as a $-prefixed path or an expression"));
    }
    let RawBsonRef::Array(boundaries) = boundaries else {
        return Err(loc(40200, "The $bucket 'boundaries' field must be an array of constant values"));
    };
    let bounds: Vec<RawBsonRef<'_>> = boundaries.into_iter().collect::<Result<_, _>>().map_err(invalid_bson)?;
    if bounds.len() < 2 {
        return Err(loc(40192, "The $bucket 'boundaries' field must have at least 2 values"));
    }
    for pair in bounds.windows(2) {
        if canonical_type_rank(pair[0].element_type()) != canonical_type_rank(pair[1].element_type()) {
            return Err(loc(40193, "All values in the 'boundaries' option to $bucket must have the same type"));
        }
        if compare_values(pair[0], pair[1]) != Ordering::Less {
            return Err(loc(40194, "The 'boundaries' option to $bucket must be sorted in ascending order"));
        }
    }
    if let Some(d) = default {
        let (lowest, highest) = (bounds[0], bounds[bounds.len() - 1]);
        let same_type = canonical_type_rank(d.element_type()) == canonical_type_rank(lowest.element_type());
        if same_type && compare_values(d, lowest) != Ordering::Less && compare_values(d, highest) == Ordering::Less {
            return Err(loc(
                40199,
                "The $bucket 'default' field must be less than the lowest boundary or greater than or equal to the \
                 highest boundary.",
            ));
        }
    }
    let output = match output {
        None => rawdoc! { "count": { "$sum": 1 } },
        Some(RawBsonRef::Document(o)) => o.to_owned(),
        Some(_) => return Err(loc(40196, "The $bucket 'output' field must be an object")),
    };
    let mut branches = RawArrayBuf::new();
    for pair in bounds.windows(2) {
        let (low, high) = (RawBson::from(pair[0]), RawBson::from(pair[1]));
        let case = rawdoc! {
            "$and": [
                { "$gte": [RawBson::from(group_by), { "$literal": low.clone() }] },
                { "$lt": [RawBson::from(group_by), { "$literal": high }] },
            ]
        };
        branches.push(rawdoc! { "case": case, "then": { "$literal": low } });
    }
    let mut switch = rawdoc! { "branches": branches };
    if let Some(d) = default {
        switch.append(bson::raw::cstr!("default"), rawdoc! { "$literal": RawBson::from(d) });
    }
    let mut group = rawdoc! { "_id": { "$switch": switch } };
    for element in &output {
        let (key, value) = element.map_err(invalid_bson)?;
        group.append(key, value);
    }
    Ok((rawdoc! { "$group": group }, rawdoc! { "$sort": { "_id": 1 } }))
}

/// The size of a `$sample` stage (28745 to 28749).
pub fn sample_size(spec: RawBsonRef<'_>) -> DocDbResult<i64> {
    let RawBsonRef::Document(spec) = spec else {
        return Err(loc(28745, "the $sample stage specification must be an object"));
    };
    let mut size = None;
    for element in spec {
        let (key, value) = element.map_err(invalid_bson)?;
        if key.as_str() != "size" {
            return Err(loc(28748, format!("unrecognized option to $sample: {}", key.as_str())));
        }
        let n = match value {
            RawBsonRef::Int32(n) => f64::from(n),
            RawBsonRef::Int64(n) => n as f64,
            RawBsonRef::Double(d) => d,
            RawBsonRef::Decimal128(d) => d.to_string().parse::<f64>().unwrap_or(f64::NAN),
            _ => return Err(loc(28746, "size argument to $sample must be a number")),
        };
        if n.is_nan() || n < 0.0 {
            return Err(loc(28747, "size argument to $sample must not be negative"));
        }
        size = Some(n.min(i64::MAX as f64) as i64);
    }
    size.ok_or_else(|| loc(28749, "$sample stage must specify a size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: DocDbResult<impl Sized>) -> i32 {
        r.err().map_or(0, |e| e.code.code())
    }

    /// Manual ($bucket): the stage is a $group by boundary with a count by default, sorted.
    #[test]
    fn bucket_becomes_group_and_sort() {
        let spec = rawdoc! { "groupBy": "$price", "boundaries": [0, 200, 400], "default": "Other" };
        let (group, sort) = bucket_stages(RawBsonRef::Document(&spec)).unwrap();
        let g = group.get_document("$group").unwrap();
        let branches = g.get_document("_id").unwrap().get_document("$switch").unwrap().get_array("branches").unwrap();
        assert_eq!(branches.into_iter().count(), 2);
        assert!(g.get_document("count").is_ok(), "count: {{$sum: 1}} by default");
        assert_eq!(sort, rawdoc! { "$sort": { "_id": 1 } });
        let with_output = rawdoc! { "groupBy": "$p", "boundaries": [1, 2], "output": { "n": { "$sum": 1 } } };
        let (group, _) = bucket_stages(RawBsonRef::Document(&with_output)).unwrap();
        assert!(group.get_document("$group").unwrap().get("count").unwrap().is_none());
    }

    #[test]
    fn bucket_errors() {
        let check = |spec: bson::RawDocumentBuf| code(bucket_stages(RawBsonRef::Document(&spec)));
        assert_eq!(code(bucket_stages(RawBsonRef::Int32(1))), 40201);
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": [0, 1], "x": 1 }), 40197);
        assert_eq!(check(rawdoc! { "groupBy": "$a" }), 40198);
        assert_eq!(check(rawdoc! { "groupBy": "a", "boundaries": [0, 1] }), 40202);
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": 1 }), 40200);
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": [0] }), 40192);
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": [0, "a"] }), 40193);
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": [2, 1] }), 40194);
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": [0, 10], "default": 5 }), 40199);
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": [0, 10], "default": 10 }), 0);
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": [0, 1.5, 2i64] }), 0, "numbers are one type");
        assert_eq!(check(rawdoc! { "groupBy": "$a", "boundaries": [0, 1], "output": 1 }), 40196);
    }

    #[test]
    fn sample_sizes() {
        let size = |spec: bson::RawDocumentBuf| sample_size(RawBsonRef::Document(&spec));
        assert_eq!(size(rawdoc! { "size": 3 }).unwrap(), 3);
        assert_eq!(size(rawdoc! { "size": 2.5 }).unwrap(), 2);
        assert_eq!(code(size(rawdoc! {})), 28749);
        assert_eq!(code(size(rawdoc! { "size": -1 })), 28747);
        assert_eq!(code(size(rawdoc! { "size": "a" })), 28746);
        assert_eq!(code(size(rawdoc! { "size": 1, "x": 1 })), 28748);
        assert_eq!(code(sample_size(RawBsonRef::Int32(1))), 28745);
    }
}
