//! Aggregation-pipeline updates (`u: [ {$set: ...}, {$unset: ...}, ... ]`): only the
//! stages MongoDB allows inside an update run; the result replaces the document.
use bson::{Bson, Document, RawArray, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};

use super::fmt;
use super::ops;
use crate::expr::{ExprContext, Expression};
use crate::projection::Projection;

/// One stage of an update pipeline.
#[derive(Debug, Clone)]
pub(crate) enum Stage {
    /// `$addFields`/`$set`, `$project`, `$unset`.
    Projection(Projection),
    /// `$replaceRoot`/`$replaceWith`; `context` names the value in the error message.
    ReplaceRoot { expr: Expression, context: &'static str },
}

/// Aggregation stages MongoDB knows but refuses inside an update.
const OTHER_STAGES: &[&str] = &[
    "$bucket",
    "$bucketAuto",
    "$changeStream",
    "$changeStreamSplitLargeEvent",
    "$collStats",
    "$count",
    "$currentOp",
    "$densify",
    "$documents",
    "$facet",
    "$fill",
    "$geoNear",
    "$graphLookup",
    "$group",
    "$indexStats",
    "$limit",
    "$listLocalSessions",
    "$listSampledQueries",
    "$listSearchIndexes",
    "$listSessions",
    "$lookup",
    "$match",
    "$merge",
    "$out",
    "$planCacheStats",
    "$redact",
    "$sample",
    "$search",
    "$searchMeta",
    "$setWindowFields",
    "$shardedDataDistribution",
    "$skip",
    "$sort",
    "$sortByCount",
    "$unionWith",
    "$unwind",
    "$vectorSearch",
];

fn location(code: i32, message: String) -> DocDbError {
    DocDbError::new(ErrorCode::new(code), message)
}

fn bson_err(e: impl std::fmt::Display) -> DocDbError {
    docdb_error!(InvalidBSON, "{e}")
}

/// Parses the stages of an update pipeline.
pub(crate) fn parse_pipeline(stages: &RawArray, ctx: &ExprContext) -> DocDbResult<Vec<Stage>> {
    let mut out = Vec::new();
    for element in stages {
        let element = element.map_err(bson_err)?;
        let RawBsonRef::Document(stage) = element else {
            bail!(TypeMismatch, "Each element of the 'pipeline' array must be an object");
        };
        let mut fields = stage.iter();
        let (name, spec) = match (fields.next(), fields.next()) {
            (Some(first), None) => first.map_err(bson_err)?,
            _ => {
                return Err(location(
                    40323,
                    "A pipeline stage specification object must contain exactly one field.".to_owned(),
                ))
            }
        };
        out.push(parse_stage(name.as_str(), spec, ctx)?);
    }
    Ok(out)
}

fn parse_stage(name: &str, spec: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<Stage> {
    let type_name = || documentdb_bson::type_name(spec.element_type());
    match name {
        "$addFields" | "$set" => match spec {
            RawBsonRef::Document(d) => Ok(Stage::Projection(Projection::parse_add_fields_with_context(d, ctx)?)),
            _ => Err(location(40272, format!("{name} specification stage must be an object, got {}", type_name()))),
        },
        "$project" => match spec {
            RawBsonRef::Document(d) => Ok(Stage::Projection(Projection::parse_project_stage_with_context(d, ctx)?)),
            _ => Err(location(15969, "$project specification must be an object".to_owned())),
        },
        "$unset" => Ok(Stage::Projection(Projection::parse_unset(spec)?)),
        "$replaceWith" => {
            Ok(Stage::ReplaceRoot { expr: Expression::parse(spec, ctx)?, context: "'replacement document' " })
        }
        "$replaceRoot" => {
            let RawBsonRef::Document(d) = spec else {
                return Err(location(
                    40229,
                    format!("expected an object as specification for $replaceRoot stage, got {}", type_name()),
                ));
            };
            let mut new_root = None;
            for field in d {
                let (k, v) = field.map_err(bson_err)?;
                if k.as_str() != "newRoot" {
                    return Err(location(
                        40415,
                        format!("BSON field '$replaceRoot.{}' is an unknown field.", k.as_str()),
                    ));
                }
                new_root = Some(v);
            }
            let Some(new_root) = new_root else {
                return Err(location(
                    40414,
                    "BSON field '$replaceRoot.newRoot' is missing but a required field".to_owned(),
                ));
            };
            Ok(Stage::ReplaceRoot { expr: Expression::parse(new_root, ctx)?, context: "'newRoot' expression " })
        }
        _ if OTHER_STAGES.contains(&name) => {
            bail!(InvalidOptions, "{name} is not allowed to be used within an update")
        }
        _ => Err(location(40324, format!("Unrecognized pipeline stage name: '{name}'"))),
    }
}

/// Runs the stages over `doc`, returning the transformed document.
pub(crate) fn run(stages: &[Stage], doc: &Document) -> DocDbResult<Document> {
    let mut current = ops::to_raw_document(doc)?;
    for stage in stages {
        current = match stage {
            Stage::Projection(p) => p.apply(&current)?,
            Stage::ReplaceRoot { expr, context } => replace_root(expr, context, &current)?,
        };
    }
    Document::try_from(current).map_err(bson_err)
}

fn replace_root(expr: &Expression, context: &str, input: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    match expr.evaluate(input)? {
        Some(Bson::Document(d)) => ops::to_raw_document(&d),
        other => {
            let input_doc = Document::try_from(input).map_err(bson_err)?;
            Err(location(
                40228,
                format!(
                    "{context}must evaluate to an object, but resulting value was: {}. Type of resulting value: '{}'. Input document: {}",
                    fmt::agg_value(other.as_ref()),
                    other.as_ref().map_or("missing", |v| documentdb_bson::type_name(v.element_type())),
                    fmt::agg_document(&input_doc)
                ),
            ))
        }
    }
}
