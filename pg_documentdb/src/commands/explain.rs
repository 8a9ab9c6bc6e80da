//! `explain`: runs PostgreSQL's EXPLAIN on the SQL a command would execute and reports it
//! in MongoDB's explain shape (`queryPlanner.winningPlan`, `executionStats` for the
//! executionStats/allPlansExecution verbosities), with the PostgreSQL plan attached.

use crate::authz;
use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_authz::Action;
use documentdb_errors::{bail, docdb_error, DocDbResult};

use super::cursor::{FirstPage, OwnedParam, PageQuery};
use super::find::parse_find;
use super::query_sql::select_sql;
use super::spec::{self, read_fields};
use super::write_result::cstr;
use crate::catalog::{self, Collection};
use crate::spi::{self, Value};
use documentdb_query::index_bounds::KeyBounds;

/// What MongoDB's explain says about the index a plan node reads.
struct IndexView<'a> {
    collection: &'a Collection,
    filter: Option<&'a RawDocument>,
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
fn winning_stage(plan: &RawDocument, view: Option<&IndexView<'_>>) -> RawDocumentBuf {
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

/// `totalKeysExamined` and `totalDocsExamined` summed over the plan's scans.
fn examined(plan: &RawDocument) -> (i64, i64) {
    let number = |field: &str| match plan.get(field).ok().flatten() {
        Some(RawBsonRef::Int32(i)) => i64::from(i),
        Some(RawBsonRef::Int64(i)) => i,
        Some(RawBsonRef::Double(d)) => d as i64,
        _ => 0,
    };
    let loops = number("Actual Loops").max(1);
    let rows = number("Actual Rows") * loops;
    let removed = (number("Rows Removed by Filter") + number("Rows Removed by Index Recheck")) * loops;
    let (mut keys, mut docs) = match plan.get_str("Node Type").unwrap_or("") {
        "Index Scan" | "Index Only Scan" => (rows + removed, rows + removed),
        "Bitmap Index Scan" => (rows, 0),
        "Bitmap Heap Scan" | "Seq Scan" | "Tid Range Scan" | "Tid Scan" => (0, rows + removed),
        _ => (0, 0),
    };
    if let Ok(children) = plan.get_array("Plans") {
        for child in children.into_iter().flatten() {
            if let RawBsonRef::Document(c) = child {
                let (k, d) = examined(c);
                keys += k;
                docs += d;
            }
        }
    }
    (keys, docs)
}

/// The find a write command's explain plans (MongoDB explains the query part of a write
/// without performing it), and the stage that wraps it.
fn write_as_find(command: &str, inner: &RawDocument) -> DocDbResult<(RawDocumentBuf, &'static str)> {
    let coll = spec::collection_name(inner, command)?;
    let mut find = rawdoc! { "find": coll };
    let statement = |list: &str| -> DocDbResult<RawDocumentBuf> {
        match inner.get_array(list).ok().and_then(|a| a.into_iter().next()) {
            Some(Ok(RawBsonRef::Document(d))) => Ok(d.to_owned()),
            _ => bail!(FailedToParse, "explain of {command} needs one statement in '{list}'"),
        }
    };
    let stage = match command {
        "update" => {
            let s = statement("updates")?;
            find.append(cstr("filter"), s.get_document("q").map(ToOwned::to_owned).unwrap_or_default());
            if !s.get_bool("multi").unwrap_or(false) {
                find.append(cstr("limit"), 1i64);
            }
            if let Ok(Some(hint)) = s.get("hint") {
                find.append(cstr("hint"), hint);
            }
            "UPDATE"
        }
        "delete" => {
            let s = statement("deletes")?;
            find.append(cstr("filter"), s.get_document("q").map(ToOwned::to_owned).unwrap_or_default());
            if matches!(s.get("limit"), Ok(Some(RawBsonRef::Int32(1) | RawBsonRef::Int64(1)))) {
                find.append(cstr("limit"), 1i64);
            }
            if let Ok(Some(hint)) = s.get("hint") {
                find.append(cstr("hint"), hint);
            }
            "DELETE"
        }
        _ => {
            for (from, to) in [("query", "filter"), ("sort", "sort"), ("hint", "hint")] {
                if let Ok(Some(value)) = inner.get(from) {
                    find.append(cstr(to), value);
                }
            }
            find.append(cstr("limit"), 1i64);
            if inner.get_bool("remove").unwrap_or(false) {
                "DELETE"
            } else {
                "UPDATE"
            }
        }
    };
    Ok((find, stage))
}

fn explain_sql(query: &PageQuery, analyze: bool) -> DocDbResult<RawDocumentBuf> {
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

/// `aggregate_cursor_first_page`: `{aggregate: ..., explain: true}` is the explain
/// command's queryPlanner answer (no cursor); other aggregates run.
pub fn aggregate_first_page(db: &str, spec_doc: &RawDocument, cursor_id: i64) -> DocDbResult<FirstPage> {
    if !matches!(spec_doc.get("explain"), Ok(Some(RawBsonRef::Boolean(true)))) {
        return super::aggregate::aggregate_first_page(db, spec_doc, cursor_id);
    }
    let mut inner = RawDocumentBuf::new();
    for element in spec_doc {
        let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        if !matches!(key.as_str(), "explain" | "cursor") {
            inner.append(key, value);
        }
    }
    let reply = explain(db, &rawdoc! { "explain": inner, "verbosity": "queryPlanner" })?;
    Ok(FirstPage { reply, continuation: None, persist_connection: false, cursor_id: 0 })
}

/// `explain`: `spec` is `{ explain: { <command> }, verbosity: ... }`.
pub fn explain(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let inner = match spec::command_target(spec_doc, "explain")? {
        RawBsonRef::Document(d) => d,
        _ => bail!(TypeMismatch, "BSON field 'explain.explain' is the wrong type, expected type 'object'"),
    };
    let mut verbosity = "allPlansExecution";
    read_fields(spec_doc, "explain", |field| {
        match field.name {
            "verbosity" => verbosity = field.str()?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if !matches!(verbosity, "queryPlanner" | "executionStats" | "allPlansExecution") {
        bail!(BadValue, "verbosity string must be one of {{'queryPlanner', 'executionStats', 'allPlansExecution'}}");
    }
    let analyze = verbosity != "queryPlanner";
    let command = match inner.iter().next() {
        Some(Ok((name, _))) => name.as_str().to_owned(),
        _ => bail!(BadValue, "explain command requires a nested object"),
    };
    // Build the query the command would run; writes explain their query part.
    let (find_spec, write_stage) = match command.as_str() {
        "update" | "delete" | "findAndModify" | "findandmodify" => {
            let (find, stage) = write_as_find(&command, inner)?;
            (Some(find), Some(stage))
        }
        _ => (None, None),
    };
    // Explaining a command takes the privileges of the command itself (aggregate checks its
    // own in aggregate_query).
    if let Ok(coll) = spec::collection_name(inner, &command) {
        let actions: &[Action] = match command.as_str() {
            "find" | "count" | "distinct" => &[Action::Find],
            "update" => &[Action::Update],
            "delete" => &[Action::Remove],
            "findAndModify" | "findandmodify" => &[Action::Find, Action::Update],
            _ => &[],
        };
        let existing = catalog::lookup(db, coll)?;
        for action in actions {
            authz::require_data(existing.as_ref(), *action, db, coll, spec_doc)?;
        }
    }
    let read_command = if find_spec.is_some() { "find" } else { command.as_str() };
    let mut collection = None;
    let (ns, query, parsed_query): (String, Option<PageQuery>, RawDocumentBuf) = match read_command {
        "find" | "count" | "distinct" => {
            let find_spec = match find_spec {
                Some(f) => f,
                None if command == "find" => inner.to_owned(),
                None => {
                    let coll = spec::collection_name(inner, &command)?;
                    let filter = inner.get_document("query").map(|q| q.to_owned()).unwrap_or_default();
                    let mut find = rawdoc! { "find": coll, "filter": filter };
                    if let Ok(Some(hint)) = inner.get("hint") {
                        find.append(cstr("hint"), hint);
                    }
                    find
                }
            };
            let (coll, q, _) = parse_find(&find_spec)?;
            let ns = format!("{db}.{coll}");
            let filter = q.filter.map(|f| f.to_owned()).unwrap_or_default();
            match catalog::lookup(db, coll)? {
                Some(c) if !c.is_view() => {
                    let query = select_sql(&c, &q, false)?;
                    collection = Some(c);
                    (ns, Some(query), filter)
                }
                Some(_) => {
                    let agg = rawdoc! { "aggregate": coll, "pipeline": [ { "$match": filter.clone() } ] };
                    let (ns, query, _) = super::aggregate::aggregate_query(db, &agg, true)?;
                    (ns, Some(query), filter)
                }
                None => (ns, None, filter),
            }
        }
        "aggregate" => {
            let (ns, query, _) = super::aggregate::aggregate_query(db, inner, true)?;
            let coll = ns.split_once('.').map(|(_, c)| c.to_owned()).unwrap_or_default();
            collection = catalog::lookup(db, &coll)?.filter(|c| !c.is_view());
            let first_match = inner
                .get_array("pipeline")
                .ok()
                .and_then(|p| p.into_iter().next())
                .and_then(|s| match s {
                    Ok(RawBsonRef::Document(stage)) => stage.get_document("$match").ok().map(ToOwned::to_owned),
                    _ => None,
                })
                .unwrap_or_default();
            (ns, Some(query), first_match)
        }
        other => bail!(CommandNotFound, "Explain failed due to unknown command: {other}"),
    };
    let mut planner =
        rawdoc! { "namespace": ns.as_str(), "indexFilterSet": false, "parsedQuery": parsed_query.clone() };
    let mut reply = RawDocumentBuf::new();
    reply.append(cstr("explainVersion"), "1");
    match query {
        Some(query) => {
            let plan = explain_sql(&query, analyze)?;
            let root = plan.get_document("Plan").map(|p| p.to_owned()).unwrap_or_default();
            let view = collection.as_ref().map(|c| IndexView { collection: c, filter: Some(&parsed_query) });
            let mut winning = winning_stage(&root, view.as_ref());
            if let Some(stage) = write_stage {
                winning = rawdoc! { "stage": stage, "inputStage": winning };
            }
            planner.append(cstr("winningPlan"), winning);
            planner.append(cstr("rejectedPlans"), RawArrayBuf::new());
            planner.append(cstr("postgresPlan"), plan.clone());
            if read_command == "aggregate" {
                // MongoDB's shape for a pipeline: the query layer's plan as `$cursor`, then
                // the stages (all of them run inside the one PostgreSQL plan above).
                let mut stages = RawArrayBuf::new();
                stages.push(rawdoc! { "$cursor": { "queryPlanner": planner.clone() } });
                if let Ok(pipeline) = inner.get_array("pipeline") {
                    for stage in pipeline.into_iter().flatten() {
                        stages.push(stage);
                    }
                }
                reply.append(cstr("stages"), stages);
            }
            reply.append(cstr("queryPlanner"), planner);
            if analyze {
                let rows = root.get("Actual Rows").ok().flatten().and_then(|v| match v {
                    RawBsonRef::Int32(i) => Some(i64::from(i)),
                    RawBsonRef::Int64(i) => Some(i),
                    RawBsonRef::Double(d) => Some(d as i64),
                    _ => None,
                });
                let ms = match plan.get("Execution Time").ok().flatten() {
                    Some(RawBsonRef::Double(d)) => d,
                    Some(RawBsonRef::Int32(i)) => f64::from(i),
                    _ => 0.0,
                };
                let (keys, docs) = examined(&root);
                reply.append(
                    cstr("executionStats"),
                    rawdoc! {
                        "executionSuccess": true,
                        "nReturned": rows.unwrap_or(0),
                        "executionTimeMillis": ms.round() as i64,
                        "totalKeysExamined": keys,
                        "totalDocsExamined": docs,
                    },
                );
            }
        }
        None => {
            planner.append(cstr("winningPlan"), rawdoc! { "stage": "EOF" });
            planner.append(cstr("rejectedPlans"), RawArrayBuf::new());
            reply.append(cstr("queryPlanner"), planner);
        }
    }
    reply.append(cstr("command"), inner.to_owned());
    reply.append(cstr("serverInfo"), rawdoc! { "version": "7.0.0", "gitVersion": env!("CARGO_PKG_VERSION") });
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}
