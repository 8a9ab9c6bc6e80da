//! `explain`: runs PostgreSQL's EXPLAIN on the SQL a command would execute and reports it
//! in MongoDB's explain shape (`queryPlanner.winningPlan`, `executionStats` for the
//! executionStats/allPlansExecution verbosities), with the PostgreSQL plan attached.

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbResult};

use super::cursor::{OwnedParam, PageQuery};
use super::find::parse_find;
use super::query_sql::select_sql;
use super::spec::{self, read_fields};
use super::write_result::cstr;
use crate::catalog;
use crate::spi::{self, Value};

/// Finds the scan node that reads the collection and names it the MongoDB way.
fn winning_stage(plan: &RawDocument, collection_id: Option<i64>) -> RawDocumentBuf {
    let node_type = plan.get_str("Node Type").unwrap_or("");
    if let Ok(index) = plan.get_str("Index Name") {
        if index.starts_with("collection_pk_") {
            // The primary key is (shard_key_value, object_id): `_id` equality is MongoDB's
            // IDHACK, other conditions on object_id scan the `_id_` index, and a scan with no
            // condition on object_id reads the whole collection in `_id` order.
            let condition = plan.get_str("Index Cond").unwrap_or("");
            if !condition.contains("object_id") {
                return rawdoc! { "stage": "COLLSCAN" };
            }
            // EXPLAIN qualifies the operator unless documentdb_core is on the search path.
            if condition.contains("object_id OPERATOR(documentdb_core.=) '") || condition.contains("object_id = '") {
                return rawdoc! { "stage": "IDHACK" };
            }
            return rawdoc! { "stage": "FETCH", "inputStage": { "stage": "IXSCAN", "indexName": "_id_" } };
        }
        let name = collection_id
            .and_then(|_| index.rsplit("_idx_").next()?.parse::<i64>().ok())
            .and_then(|id| catalog::index_name(id).ok().flatten())
            .unwrap_or_else(|| index.to_owned());
        return rawdoc! { "stage": "FETCH", "inputStage": { "stage": "IXSCAN", "indexName": name } };
    }
    if matches!(node_type, "Seq Scan" | "Tid Range Scan" | "Tid Scan") {
        return rawdoc! { "stage": "COLLSCAN" };
    }
    if let Ok(children) = plan.get_array("Plans") {
        for child in children.into_iter().flatten() {
            if let RawBsonRef::Document(c) = child {
                let inner = winning_stage(c, collection_id);
                if inner.get_str("stage").ok() != Some("EOF") {
                    let mut outer = RawDocumentBuf::new();
                    let stage = match node_type {
                        "Sort" | "Incremental Sort" => "SORT",
                        "Limit" => "LIMIT",
                        "Aggregate" | "HashAggregate" | "GroupAggregate" => "GROUP",
                        _ => return inner,
                    };
                    outer.append(cstr("stage"), stage);
                    outer.append(cstr("inputStage"), inner);
                    return outer;
                }
            }
        }
    }
    rawdoc! { "stage": "EOF" }
}

fn explain_sql(query: &PageQuery, analyze: bool) -> DocDbResult<RawDocumentBuf> {
    let sql = format!(
        "EXPLAIN (FORMAT JSON, VERBOSE false{}) {}",
        if analyze { ", ANALYZE true, TIMING true, BUFFERS false" } else { "" },
        query.sql
    );
    let params: Vec<_> = query.params.iter().map(OwnedParam::as_param).collect();
    let rows = spi::execute(&sql, &params, true, 0)?;
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
    // Build the query the command would run.
    let (ns, query, collection_id, parsed_query): (String, Option<PageQuery>, Option<i64>, RawDocumentBuf) =
        match command.as_str() {
            "find" | "count" | "distinct" => {
                let find_spec = if command == "find" {
                    inner.to_owned()
                } else {
                    let coll = spec::collection_name(inner, &command)?;
                    let filter = inner.get_document("query").map(|q| q.to_owned()).unwrap_or_default();
                    rawdoc! { "find": coll, "filter": filter }
                };
                let (coll, q, _) = parse_find(&find_spec)?;
                let ns = format!("{db}.{coll}");
                let filter = q.filter.map(|f| f.to_owned()).unwrap_or_default();
                match catalog::lookup(db, coll)? {
                    Some(c) if !c.is_view() => {
                        let query = select_sql(&c, &q, false)?;
                        (ns, Some(query), Some(c.id), filter)
                    }
                    Some(_) => {
                        let agg = rawdoc! { "aggregate": coll, "pipeline": [ { "$match": filter.clone() } ] };
                        let (ns, query, _) = super::aggregate::aggregate_query(db, &agg, true)?;
                        (ns, Some(query), None, filter)
                    }
                    None => (ns, None, None, filter),
                }
            }
            "aggregate" => {
                let (ns, query, _) = super::aggregate::aggregate_query(db, inner, true)?;
                let coll = ns.split_once('.').map(|(_, c)| c.to_owned()).unwrap_or_default();
                let id = catalog::lookup(db, &coll)?.map(|c| c.id);
                (ns, Some(query), id, RawDocumentBuf::new())
            }
            "update" | "delete" | "findAndModify" | "findandmodify" => {
                bail!(CommandNotSupported, "explain of {command} is not supported yet")
            }
            other => bail!(CommandNotFound, "Explain failed due to unknown command: {other}"),
        };
    let mut planner = rawdoc! { "namespace": ns.as_str(), "indexFilterSet": false, "parsedQuery": parsed_query };
    let mut reply = RawDocumentBuf::new();
    reply.append(cstr("explainVersion"), "1");
    match query {
        Some(query) => {
            let plan = explain_sql(&query, analyze)?;
            let root = plan.get_document("Plan").map(|p| p.to_owned()).unwrap_or_default();
            planner.append(cstr("winningPlan"), winning_stage(&root, collection_id));
            planner.append(cstr("rejectedPlans"), RawArrayBuf::new());
            planner.append(cstr("postgresPlan"), plan.clone());
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
                reply.append(
                    cstr("executionStats"),
                    rawdoc! {
                        "executionSuccess": true,
                        "nReturned": rows.unwrap_or(0),
                        "executionTimeMillis": ms.round() as i64,
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
