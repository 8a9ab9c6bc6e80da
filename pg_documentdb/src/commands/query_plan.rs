//! What PostgreSQL's plan for a query says, in MongoDB's terms: the plan itself
//! (`EXPLAIN (FORMAT JSON)` of the statement a command runs), the stage that reads the
//! collection (COLLSCAN, IDHACK, FETCH over IXSCAN with the index's key pattern and
//! bounds), and the key pattern of the index read. `explain` reports these;
//! `{$meta: "indexKey"}` binds the last one (`meta_fields.rs`).

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbResult};

use super::cursor::{OwnedParam, PageQuery};
use super::write_result::cstr;
use crate::catalog::Collection;
use crate::spi::{self, Value};
use documentdb_query::index_bounds::KeyBounds;

/// What MongoDB's explain says about the index a plan node reads.
pub struct IndexView<'a> {
    pub collection: &'a Collection,
    pub filter: Option<&'a RawDocument>,
}

impl IndexView<'_> {
    /// The IXSCAN stage for PostgreSQL index `pg_name`, with the index's key pattern,
    /// multikey flag and the bounds the filter puts on each key.
    fn ixscan(&self, pg_name: &str, backward: bool) -> RawDocumentBuf {
        let entry = if pg_name.starts_with("collection_pk_") {
            self.collection.indexes.iter().find(|i| i.name() == "_id_")
        } else {
            // documents_<collection>_idx_<id>, or its GIN of multikey keys (`..._terms`).
            let id = pg_name.rsplit("_idx_").next().and_then(|id| id.trim_end_matches("_terms").parse::<i64>().ok());
            self.collection.indexes.iter().find(|i| Some(i.id) == id)
        };
        let Some(entry) = entry else {
            return rawdoc! { "stage": "IXSCAN", "indexName": pg_name };
        };
        let key = entry.key().map(ToOwned::to_owned).unwrap_or_default();
        let mut stage = rawdoc! {
            "stage": "IXSCAN",
            "keyPattern": key.clone(),
            "indexName": entry.name(),
            "isMultiKey": entry.multikey,
            "isUnique": entry.spec.get_bool("unique").unwrap_or(entry.name() == "_id_"),
            "isSparse": entry.spec.get_bool("sparse").unwrap_or(false),
            "isPartial": entry.spec.get_document("partialFilterExpression").is_ok(),
            "direction": if backward { "backward" } else { "forward" },
        };
        stage.append(cstr("indexBounds"), self.bounds(&key, entry.multikey));
        stage
    }

    /// MongoDB's `indexBounds`: per key, the intervals the filter's predicates on it allow
    /// (`[MinKey, MaxKey]` where the filter says nothing the index can use).
    fn bounds(&self, key: &RawDocument, multikey: bool) -> RawDocumentBuf {
        let filter = self.filter.and_then(|f| documentdb_query::filter::Filter::parse(f).ok());
        let predicates = filter.as_ref().map(|f| f.pushdown_predicates()).unwrap_or_default();
        let prefixes = filter.as_ref().map(|f| f.regex_prefixes()).unwrap_or_default();
        let restrictions = filter.as_ref().map(|f| f.key_restrictions()).unwrap_or_default();
        let mut out = RawDocumentBuf::new();
        for (path, _) in key.iter().flatten() {
            // The first predicate's interval: the bounds the scan starts from (of a multikey
            // index, MongoDB does not intersect the predicates' bounds either).
            let mut intervals = predicates
                .iter()
                .filter(|p| p.path == path.as_str())
                .find_map(documentdb_query::index_bounds::key_bounds)
                .map(|b| interval_strings(&b))
                .unwrap_or_default();
            if intervals.is_empty() && !multikey {
                if let Some((_, prefix)) = prefixes.iter().find(|(p, _)| p == path.as_str()) {
                    intervals = interval_strings(&documentdb_query::index_bounds::prefix_bounds(prefix));
                    intervals.push(format!("/^{prefix}/"));
                } else if let Some(bounds) = restrictions
                    .iter()
                    .filter(|(p, _)| p == path.as_str())
                    .find_map(|(_, r)| documentdb_query::index_bounds::restriction_bounds(r))
                {
                    intervals = interval_strings(&bounds);
                }
            }
            if intervals.is_empty() {
                intervals.push("[MinKey, MaxKey]".to_owned());
            }
            let mut array = RawArrayBuf::new();
            for i in intervals {
                array.push(i.as_str());
            }
            out.append(path, array);
        }
        out
    }
}

/// Intervals as MongoDB prints them: `[5, 5]`, `(50, inf.0]`-style brackets with values in
/// relaxed extended JSON.
fn interval_strings(bounds: &KeyBounds) -> Vec<String> {
    let show = |v: &bson::RawBson| {
        let mut doc = RawDocumentBuf::new();
        doc.append(cstr("v"), v.clone());
        let text = documentdb_bson::extjson::to_relaxed_string(&doc);
        let inner = text.strip_prefix("{ \"v\" : ").unwrap_or(&text);
        // MongoDB prints the empty document and array (the ends of type brackets) tight.
        match inner.strip_suffix(" }").unwrap_or(inner) {
            "{ }" => "{}".to_owned(),
            "[ ]" => "[]".to_owned(),
            other => other.to_owned(),
        }
    };
    match bounds {
        KeyBounds::Equal(v) => vec![format!("[{0}, {0}]", show(v))],
        KeyBounds::OneOf(values) => values.iter().map(|v| format!("[{0}, {0}]", show(v))).collect(),
        KeyBounds::NoneOf(values) => {
            // MongoDB's intervals around the excluded values: [MinKey, v1), (v1, v2), ..., (vn, MaxKey].
            let mut out = Vec::new();
            let mut low = ("[", "MinKey".to_owned());
            for v in values {
                out.push(format!("{}{}, {})", low.0, low.1, show(v)));
                low = ("(", show(v));
            }
            out.push(format!("{}{}, MaxKey]", low.0, low.1));
            out
        }
        KeyBounds::Range { lower, upper } => {
            // The ends of the numbers' type bracket print as MongoDB prints them.
            let numeric = |b: &documentdb_query::index_bounds::Bound| {
                matches!(
                    b.value,
                    bson::RawBson::Int32(_)
                        | bson::RawBson::Int64(_)
                        | bson::RawBson::Double(_)
                        | bson::RawBson::Decimal128(_)
                )
            };
            let (open, low) = match lower {
                Some(b) if numeric(b) && matches!(b.value, bson::RawBson::Double(d) if d.is_nan()) => {
                    ("[", "-inf.0".to_owned())
                }
                Some(b) => (if b.inclusive { "[" } else { "(" }, show(&b.value)),
                None => ("[", "MinKey".to_owned()),
            };
            let (close, high) = match upper {
                Some(b) if lower.as_ref().is_some_and(numeric) && b.value == bson::RawBson::String(String::new()) => {
                    ("]", "inf.0".to_owned())
                }
                Some(b) => (if b.inclusive { "]" } else { ")" }, show(&b.value)),
                None => ("]", "MaxKey".to_owned()),
            };
            vec![format!("{open}{low}, {high}{close}")]
        }
    }
}

/// Finds the scan node that reads the collection and names it the MongoDB way.
pub fn winning_stage(plan: &RawDocument, view: Option<&IndexView<'_>>) -> RawDocumentBuf {
    let node_type = plan.get_str("Node Type").unwrap_or("");
    if let Ok(index) = plan.get_str("Index Name") {
        if index.starts_with("collection_pk_") {
            // The primary key is (shard_key_value, object_id): `_id` equality is MongoDB's
            // IDHACK, other conditions on object_id scan the `_id_` index, and a scan with no
            // condition on object_id reads the whole collection in `_id` order.
            let condition = plan.get_str("Index Cond").unwrap_or("");
            // EXPLAIN qualifies the operator unless documentdb_core is on the search path.
            if condition.contains("object_id OPERATOR(documentdb_core.=) '") || condition.contains("object_id = '") {
                return rawdoc! { "stage": "IDHACK" };
            }
            let ordered = plan.get_str("Node Type").is_ok_and(|t| t != "Bitmap Index Scan");
            if !condition.contains("object_id") && !ordered {
                return rawdoc! { "stage": "COLLSCAN" };
            }
        }
        let backward = plan.get_str("Scan Direction").is_ok_and(|d| d == "Backward");
        let ixscan = match view {
            Some(v) => v.ixscan(index, backward),
            None => rawdoc! { "stage": "IXSCAN", "indexName": index },
        };
        return rawdoc! { "stage": "FETCH", "inputStage": ixscan };
    }
    if matches!(node_type, "Seq Scan" | "Tid Range Scan" | "Tid Scan") {
        return rawdoc! { "stage": "COLLSCAN" };
    }
    if let Ok(children) = plan.get_array("Plans") {
        let children: Vec<RawDocumentBuf> = children
            .into_iter()
            .flatten()
            .filter_map(|c| match c {
                RawBsonRef::Document(c) => Some(winning_stage(c, view)),
                _ => None,
            })
            .filter(|inner| inner.get_str("stage").ok() != Some("EOF"))
            .collect();
        if node_type == "BitmapAnd" || node_type == "BitmapOr" {
            // Several index scans combined: MongoDB's AND_SORTED / OR over index scans.
            let mut inputs = RawArrayBuf::new();
            for child in &children {
                inputs.push(child.get_document("inputStage").map(ToOwned::to_owned).unwrap_or_else(|_| child.clone()));
            }
            let stage = if node_type == "BitmapAnd" { "AND_SORTED" } else { "OR" };
            return rawdoc! { "stage": "FETCH", "inputStage": { "stage": stage, "inputStages": inputs } };
        }
        if let Some(inner) = children.into_iter().next() {
            let stage = match node_type {
                "Sort" | "Incremental Sort" => "SORT",
                "Limit" => "LIMIT",
                "Aggregate" | "HashAggregate" | "GroupAggregate" => "GROUP",
                _ => return inner,
            };
            let mut outer = RawDocumentBuf::new();
            outer.append(cstr("stage"), stage);
            outer.append(cstr("inputStage"), inner);
            return outer;
        }
    }
    rawdoc! { "stage": "EOF" }
}

pub fn explain_sql(query: &PageQuery, analyze: bool) -> DocDbResult<RawDocumentBuf> {
    let sql = format!(
        "EXPLAIN (FORMAT JSON, VERBOSE false{}) {}",
        if analyze { ", ANALYZE true, TIMING true, BUFFERS false" } else { "" },
        query.sql
    );
    let params: Vec<_> = query.params.iter().map(OwnedParam::as_param).collect();
    let rows = spi::execute_planned(&sql, &params, true, 0, &query.planning)?;
    let text = match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
        Some(Value::Text(t)) => t,
        _ => bail!(InternalError, "EXPLAIN returned no plan"),
    };
    // The JSON is an array with one object: wrap it to parse it as a document.
    let wrapped = documentdb_bson::extjson::parse_document(&format!("{{ \"plans\" : {text} }}"))?;
    let plans = wrapped.get_array("plans").map_err(|_| docdb_error!(InternalError, "unexpected EXPLAIN output"))?;
    match plans.into_iter().next() {
        Some(Ok(RawBsonRef::Document(d))) => Ok(d.to_owned()),
        _ => bail!(InternalError, "unexpected EXPLAIN output"),
    }
}

/// The key pattern of the index `query`'s plan reads on `collection`'s table (the first
/// one, when it reads several), `None` when it reads none: what `{$meta: "indexKey"}`
/// reports.
pub fn index_read(query: &PageQuery, collection: &Collection) -> DocDbResult<Option<RawDocumentBuf>> {
    fn key_pattern(stage: &RawDocument) -> Option<RawDocumentBuf> {
        match stage.get_str("stage") {
            Ok("IXSCAN") => return stage.get_document("keyPattern").ok().map(ToOwned::to_owned),
            Ok("IDHACK") => return Some(rawdoc! { "_id": 1 }),
            _ => {}
        }
        if let Ok(inner) = stage.get_document("inputStage") {
            return key_pattern(inner);
        }
        let inputs = stage.get_array("inputStages").ok()?;
        inputs.into_iter().flatten().find_map(|input| match input {
            RawBsonRef::Document(d) => key_pattern(d),
            _ => None,
        })
    }
    let plan = explain_sql(query, false)?;
    let plan = plan.get_document("Plan").map_err(|_| docdb_error!(InternalError, "unexpected EXPLAIN output"))?;
    let view = IndexView { collection, filter: None };
    Ok(key_pattern(&winning_stage(plan, Some(&view))))
}
