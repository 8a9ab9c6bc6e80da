//! Sort specifications of `$sortArray` and of the `$top`/`$bottom` accumulators:
//! `1`/`-1` for whole elements or `{field: 1/-1, ...}`.
use std::cmp::Ordering;

use bson::Bson;
use documentdb_errors::DocDbResult;

use super::operator_args::loc;
use super::value as v;
use crate::arith::{self, Num};

/// A `$sortArray` / `$push $sort`-style specification.
#[derive(Debug, Clone)]
pub(crate) enum SortBy {
    /// Sort whole elements (1 ascending, -1 descending).
    Whole(bool),
    /// Sort by fields of document elements: (dotted path, ascending).
    Fields(Vec<(Vec<String>, bool)>),
}

fn sort_direction(v: &Bson) -> Option<bool> {
    let n = Num::from_bson(v)?;
    let f = arith::to_f64(n);
    if f == 1.0 {
        Some(true)
    } else if f == -1.0 {
        Some(false)
    } else {
        None
    }
}

/// Parses a `sortBy` value (errors 2942505 / 2942506 / 2942507).
pub(crate) fn parse_sort_by(spec: &Bson) -> DocDbResult<SortBy> {
    match spec {
        Bson::Document(d) => {
            if d.is_empty() {
                return Err(loc(2942505, "$sort stage must have at least one sort key"));
            }
            let mut fields = Vec::with_capacity(d.len());
            for (k, val) in d {
                if let Bson::Document(m) = val {
                    if m.contains_key("$meta") {
                        return Err(loc(2942505, "$meta sort is not supported: text search is not supported"));
                    }
                }
                let dir = sort_direction(val).ok_or_else(|| {
                    loc(2942505, "$sort key ordering must be 1 (for ascending) or -1 (for descending)")
                })?;
                documentdb_bson::path::check_path_components(k)?;
                fields.push((k.split('.').map(str::to_string).collect(), dir));
            }
            Ok(SortBy::Fields(fields))
        }
        other if Num::from_bson(other).is_some() => sort_direction(other)
            .map(SortBy::Whole)
            .ok_or_else(|| loc(2942506, "The $sort element value must be either 1 or -1")),
        _ => Err(loc(
            2942507,
            "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields",
        )),
    }
}

/// `getFieldDotted`: documents by name, arrays by numeric index; no array traversal.
fn dotted(val: &Bson, path: &[String]) -> Option<Bson> {
    let Some((first, rest)) = path.split_first() else {
        return Some(val.clone());
    };
    let next = match val {
        Bson::Document(d) => d.get(first)?,
        Bson::Array(a) => a.get(first.parse::<usize>().ok()?)?,
        _ => return None,
    };
    dotted(next, rest)
}

impl SortBy {
    pub(crate) fn compare(&self, a: &Bson, b: &Bson) -> Ordering {
        match self {
            SortBy::Whole(asc) => {
                let o = v::compare(a, b);
                if *asc {
                    o
                } else {
                    o.reverse()
                }
            }
            SortBy::Fields(fields) => {
                for (path, asc) in fields {
                    let ka = if matches!(a, Bson::Document(_)) { dotted(a, path) } else { None };
                    let kb = if matches!(b, Bson::Document(_)) { dotted(b, path) } else { None };
                    let o = v::compare(&ka.unwrap_or(Bson::Null), &kb.unwrap_or(Bson::Null));
                    let o = if *asc { o } else { o.reverse() };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            }
        }
    }
}
