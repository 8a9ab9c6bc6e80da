//! `$graphLookup`: each document gets at `as` the result of a breadth-first search of the
//! foreign collection (`documentdb_query::graph_lookup`), run per document by
//! `bson_graph_lookup`: one query per depth for the documents whose `connectToField` matches
//! the level's values (the `$in` operator, and the key of a single-valued index on the field,
//! or `_id`, so each level is an index lookup), `restrictSearchWithMatch` as a recheck.
//!
//! From a view, each level's query is the view's pipeline followed by that `$match` (and
//! `restrictSearchWithMatch`), so it reads the view's documents and uses the base
//! collection's indexes where the view's stages let the filter reach them.
//!
//! Why not a recursive CTE: MongoDB keeps each document once, at the smallest depth it was
//! reached, and stops on cycles; a recursive CTE can only drop rows equal in every column, so
//! a depth column would make it revisit documents along every path (exponential on DAGs).

use bson::{rawdoc, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{docdb_error, DocDbResult};
use documentdb_query::document::single_value_document;
use documentdb_query::graph_lookup::GraphLookup;

use super::Pipeline;
use crate::catalog::{self, Collection};
use crate::commands::cursor::OwnedParam;
use crate::commands::write_result::cstr;
use crate::spi::{self, Param};
use crate::sql_names::{self, BSON};

impl Pipeline {
    pub(super) fn add_graph_lookup(&mut self, stage: &RawDocument, value: RawBsonRef<'_>) -> DocDbResult<()> {
        let parsed = GraphLookup::parse(value, &self.b.ctx()?)?;
        catalog::validate_collection_name(&self.database, &parsed.from)?;
        let foreign = catalog::lookup(&self.database, &parsed.from)?;
        crate::authz::require_data(
            foreign.as_ref(),
            documentdb_authz::Action::Find,
            &self.database,
            &parsed.from,
            stage,
        )?;
        let mut spec = rawdoc! { "stage": bson::RawBson::from(value), "db": self.database.as_str() };
        if let Some(vars) = &self.b.vars {
            spec.append(cstr("vars"), vars.clone());
        }
        self.wrap(true);
        let spec = self.bson_param(spec.into_bytes());
        let as_field = self.b.param(OwnedParam::Text(parsed.as_field.clone()));
        self.level.select = format!(
            "{}(document, {as_field}::text, {}(document, {spec}))",
            sql_names::LOOKUP_SET,
            sql_names::GRAPH_LOOKUP
        );
        self.level.identity = false;
        Ok(())
    }
}

/// A `$graphLookup` stage ready to search: the parsed stage and what it reads (None: the
/// collection doesn't exist, every search finds nothing).
pub struct GraphSearch {
    stage: GraphLookup,
    foreign: Option<Collection>,
    /// The key of a single-valued index on `connectToField` (or `object_id`), if any.
    index_key: Option<String>,
}

impl GraphSearch {
    /// From `bson_graph_lookup`'s spec `{ stage, db, vars? }`.
    pub fn prepare(spec: &RawDocument) -> DocDbResult<GraphSearch> {
        let invalid = |e: bson::error::Error| docdb_error!(InternalError, "$graphLookup spec: {e}");
        let value = spec.get("stage").map_err(invalid)?.ok_or_else(|| docdb_error!(InternalError, "no stage"))?;
        let ctx = match spec.get_document("vars") {
            Ok(vars) => crate::commands::vars::context_of(vars)?,
            Err(_) => documentdb_query::expr::ExprContext::default(),
        };
        let stage = GraphLookup::parse(value, &ctx)?;
        let foreign = catalog::lookup(spec.get_str("db").map_err(invalid)?, &stage.from)?;
        let index_key = match &foreign {
            Some(c) if !c.is_view() => crate::commands::index_sql::index_key_expression(c, &stage.connect_to_field)?,
            _ => None,
        };
        Ok(GraphSearch { stage, foreign, index_key })
    }

    /// The search from one document, as `{ "": [documents] }`.
    pub fn run(&self, doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
        let Some(foreign) = &self.foreign else {
            return Ok(single_value_document(RawBsonRef::Array(&bson::RawArrayBuf::new())));
        };
        let found = if foreign.is_view() {
            self.stage.search(doc, |values| self.fetch_from_view(foreign, values))?
        } else {
            self.stage.search(doc, |values| self.fetch(foreign, values))?
        };
        Ok(single_value_document(RawBsonRef::Array(&found)))
    }

    /// A level's values as one array, and their index keys (None when an array or a regex
    /// among them has none).
    fn level_values(values: &[bson::Bson]) -> DocDbResult<(bson::RawArrayBuf, Option<Vec<Vec<u8>>>)> {
        let mut array = bson::RawArrayBuf::new();
        let mut keys: Option<Vec<Vec<u8>>> = Some(Vec::new());
        for value in values {
            let raw = documentdb_query::document::to_raw_value(value)?;
            if matches!(value, bson::Bson::Array(_) | bson::Bson::RegularExpression(_)) {
                keys = None;
            } else if let Some(k) = keys.as_mut() {
                k.push(documentdb_query::document::single_value_document(raw.as_raw_bson_ref()).into_bytes());
            }
            array.push(raw);
        }
        Ok((array, keys))
    }

    /// The documents of a view whose `connectToField` matches one of `values`: the view's
    /// pipeline, then `$match` stages for the level and `restrictSearchWithMatch`.
    fn fetch_from_view(&self, view: &Collection, values: &[bson::Bson]) -> DocDbResult<Vec<RawDocumentBuf>> {
        let (array, _) = Self::level_values(values)?;
        let mut in_values = RawDocumentBuf::new();
        in_values.append(crate::commands::index_sql::cstr_key(&self.stage.connect_to_field)?, rawdoc! { "$in": array });
        let mut pipeline = Pipeline::over_collection(view)?;
        pipeline.add_stage(&rawdoc! { "$match": in_values })?;
        if let Some(restrict) = &self.stage.restrict_search_with_match {
            pipeline.add_stage(&rawdoc! { "$match": restrict.clone() })?;
        }
        let query = pipeline.into_query();
        let params: Vec<_> = query.params.iter().map(OwnedParam::as_param).collect();
        documents(spi::execute(&query.sql, &params, true, 0)?)
    }

    /// The foreign documents whose `connectToField` matches one of `values`.
    fn fetch(&self, foreign: &Collection, values: &[bson::Bson]) -> DocDbResult<Vec<RawDocumentBuf>> {
        let (array, keys) = Self::level_values(values)?;
        let mut operand = RawDocumentBuf::new();
        operand.append(crate::commands::index_sql::cstr_key(&self.stage.connect_to_field)?, array);
        let restrict = self.stage.restrict_search_with_match.clone().unwrap_or_default().into_bytes();
        let mut sql = format!(
            "SELECT document FROM {} WHERE shard_key_value = $1 AND document OPERATOR(documentdb_api_catalog.@*=) $2::{BSON}",
            foreign.table()
        );
        if self.stage.restrict_search_with_match.is_some() {
            sql.push_str(&format!(" AND {}(document, $3::{BSON})", sql_names::QUERY_MATCH.plain));
        }
        let no_keys = Vec::new();
        let key_list = match (&self.index_key, &keys) {
            (Some(key), Some(list)) => {
                sql.push_str(&format!(" AND {key} {} ANY ($4::{BSON}[])", sql_names::BSON_EQ));
                list
            }
            _ => &no_keys,
        };
        let params = [
            Param::Int8(foreign.id),
            Param::Bson(operand.as_bytes()),
            Param::Bson(&restrict),
            Param::BsonArray(key_list),
        ];
        documents(spi::execute(&sql, &params, true, 0)?)
    }
}

/// The documents of a level's query (one bson column).
fn documents(rows: Vec<spi::Row>) -> DocDbResult<Vec<RawDocumentBuf>> {
    rows.into_iter()
        .filter_map(|r| r.into_iter().next().and_then(spi::Value::into_bson))
        .map(|bytes| RawDocumentBuf::from_bytes(bytes).map_err(|e| docdb_error!(InvalidBSON, "{e}")))
        .collect()
}
