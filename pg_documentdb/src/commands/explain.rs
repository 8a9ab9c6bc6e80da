//! `explain`: runs PostgreSQL's EXPLAIN on the SQL a command would execute and reports it
//! in MongoDB's explain shape (`queryPlanner.winningPlan`, `executionStats` for the
//! executionStats/allPlansExecution verbosities), with the PostgreSQL plan attached.

use crate::authz;
use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_authz::Action;
use documentdb_errors::{bail, docdb_error, DocDbResult};

use super::cursor::{FirstPage, PageQuery};
use super::find::parse_find;
use super::query_plan::{explain_sql, winning_stage, IndexView};
use super::query_sql::select_sql;
use super::spec::{self, read_fields};
use super::write_result::cstr;
use crate::catalog;

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
