//! The aggregation pipeline translated into one SQL query.
//!
//! The query is built as a stack of levels. A level is
//! `SELECT <expr(document)> FROM <source> WHERE ... ORDER BY ... OFFSET ... LIMIT ...`;
//! a stage either folds into the current level (a leading `$match` becomes the table's
//! WHERE clause, `$sort` its ORDER BY, `$skip`/`$limit` its OFFSET/LIMIT, projections
//! compose into its select expression) or wraps the level as a subquery of a new one
//! (`$group` becomes GROUP BY with aggregate functions, `$count` an aggregate, `$unwind` a
//! lateral set-returning function). PostgreSQL then plans, streams and spills the whole
//! pipeline; new stages slot in as another case of [`Pipeline::add_stage`].

mod densify;
mod graph_lookup;
mod window;

pub use graph_lookup::GraphSearch;

use bson::{rawdoc, Bson, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};
use documentdb_query::expr::{ExprContext, Expression};
use documentdb_query::lookup::JoinSide;
use documentdb_query::projection::Projection;

use super::cursor::{self, CursorOptions, FirstPage, OwnedParam, PageQuery};
use super::index_sql::PRIMARY_KEY;
use super::meta_fields::{split_meta_projection, MetaFields};
use super::out_merge::WriteStage;
use super::query_sql::{order_by, QuerySpec, SqlBuilder};
use super::spec::{self, read_fields};
use super::write_result::cstr;
use crate::catalog::{self, Collection};
use crate::spi::{self, Value};
use crate::sql_names::{self, PerRow};

/// Field of an accumulator spec carrying the command's `let` variables to the aggregate.
pub const ACCUMULATOR_VARS: &str = "$$vars";

/// A source with no rows (a missing collection, an empty `$documents`).
const EMPTY_SOURCE: &str = "(SELECT NULL::documentdb_core.bson AS document WHERE false) empty";

/// Maximum nesting of views on views.
const MAX_VIEW_DEPTH: usize = 20;

struct Level {
    /// Source: a table name or a parenthesised subquery with alias.
    from: String,
    /// Expression computing this level's output document from the source's `document`.
    select: String,
    /// Is `select` just `document`?
    identity: bool,
    where_: Vec<String>,
    order: Option<String>,
    /// Sort-key expressions of `order` with their direction, for order-sensitive
    /// accumulators downstream.
    order_keys: Vec<(String, bool)>,
    offset: i64,
    limit: Option<i64>,
    /// Output already grouped/aggregated: no more folding of WHERE into the source.
    aggregated: bool,
    group_by: Option<String>,
    having: Option<String>,
    /// The `{$meta: "textScore"}` of each row, after a `$match` with `$text`: an expression
    /// over the source, carried through subqueries as a `text_score` column.
    text_score: Option<String>,
    /// The `{$meta: "indexKey"}` of each row: the key of the source document in the index
    /// the plan reads (`meta_fields.rs`), carried as an `index_key` column.
    index_key: Option<String>,
}

impl Level {
    fn over(from: String) -> Level {
        Level {
            from,
            select: "document".into(),
            identity: true,
            where_: Vec::new(),
            order: None,
            order_keys: Vec::new(),
            offset: 0,
            limit: None,
            aggregated: false,
            group_by: None,
            having: None,
            text_score: None,
            index_key: None,
        }
    }

    fn sql(&self, extra_columns: &[(String, bool)]) -> String {
        let mut sql = format!("SELECT {} AS document", self.select);
        for (i, (c, _)) in extra_columns.iter().enumerate() {
            sql.push_str(&format!(", {c} AS sk{i}"));
        }
        if let Some(score) = &self.text_score {
            sql.push_str(&format!(", {score} AS text_score"));
        }
        if let Some(key) = &self.index_key {
            sql.push_str(&format!(", {key} AS index_key"));
        }
        sql.push_str(&format!(" FROM {}", self.from));
        if !self.where_.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.where_.join(" AND "));
        }
        if let Some(g) = &self.group_by {
            sql.push_str(" GROUP BY ");
            sql.push_str(g);
        }
        if let Some(h) = &self.having {
            sql.push_str(" HAVING ");
            sql.push_str(h);
        }
        if let Some(o) = &self.order {
            sql.push_str(" ORDER BY ");
            sql.push_str(o);
        }
        if self.offset > 0 {
            sql.push_str(&format!(" OFFSET {}", self.offset));
        }
        if let Some(l) = self.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        sql
    }

    fn has_row_limits(&self) -> bool {
        self.offset > 0 || self.limit.is_some()
    }
}

pub struct Pipeline {
    b: SqlBuilder,
    /// The database the pipeline runs in (`$lookup` reads its collections).
    database: String,
    level: Level,
    depth: usize,
    /// `depth` while no stage has wrapped the source yet: 0, or where a nested pipeline's
    /// aliases start (apart from its enclosing pipeline's).
    base_depth: usize,
    /// The collection the pipeline reads, when it reads one.
    collection: Option<Collection>,
    shard_key_added: bool,
    /// Stages added so far (a view's included).
    stages_added: usize,
    /// The parameter receiving the key pattern of the index the plan reads, once a stage
    /// reports `{$meta: "indexKey"}`.
    index_key_param: Option<usize>,
}

fn stage_of(stage: &RawDocument) -> DocDbResult<(&str, RawBsonRef<'_>)> {
    let mut iter = stage.iter();
    match (iter.next(), iter.next()) {
        (Some(Ok((name, value))), None) => Ok((name.as_str(), value)),
        _ => Err(DocDbError::new(
            ErrorCode::new(40323),
            "A pipeline stage specification object must contain exactly one field.",
        )),
    }
}

fn doc_arg<'a>(stage: &str, value: RawBsonRef<'a>) -> DocDbResult<&'a RawDocument> {
    match value {
        RawBsonRef::Document(d) => Ok(d),
        _ => bail!(FailedToParse, "the {stage} stage specification must be an object"),
    }
}

fn integral_arg(stage: &str, value: RawBsonRef<'_>, code: i32) -> DocDbResult<i64> {
    let n = match value {
        RawBsonRef::Int32(i) => Some(i64::from(i)),
        RawBsonRef::Int64(i) => Some(i),
        RawBsonRef::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => Some(d as i64),
        RawBsonRef::Decimal128(d) => d.to_string().parse::<f64>().ok().filter(|f| f.fract() == 0.0).map(|f| f as i64),
        _ => None,
    };
    n.ok_or_else(|| {
        DocDbError::new(ErrorCode::new(code), format!("invalid argument to {stage} stage: Expected an integer"))
    })
}

/// The documents of a `$documents` stage: its expression (constant, or using `let`
/// variables) must evaluate to an array of objects.
fn documents_stage_values(value: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<Vec<Vec<u8>>> {
    let evaluated = Expression::parse(value, ctx)?.evaluate(&RawDocumentBuf::new())?;
    let Some(Bson::Array(items)) = evaluated else {
        return Err(DocDbError::new(
            ErrorCode::new(5858203),
            "error during $documents evaluation: an array is required",
        ));
    };
    items
        .into_iter()
        .map(|item| match item {
            Bson::Document(d) => documentdb_query::document::to_raw_document(&d).map(RawDocumentBuf::into_bytes),
            other => Err(DocDbError::new(
                ErrorCode::new(40228),
                format!(
                    "error during $documents evaluation: every element must be an object, found {:?}",
                    other.element_type()
                ),
            )),
        })
        .collect()
}

/// `sql` with its parameters `$n` numbered from `offset + 1` (a nested pipeline's query
/// embedded in another's). Quoted literals and identifiers are left as they are.
fn renumber_params(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                let n: usize = digits.parse().unwrap_or(0);
                out.push('$');
                out.push_str(&(n + offset).to_string());
            }
            None => out.push(c),
        }
    }
    out
}

/// The rows of a `$lookup` join's table input (`inner`, with its row location as `sk0`) as
/// `k (document, lookup_rn, key)`: `key` the document's one local key, NULL when it has
/// none or several (`only_keyed` drops those rows, for a left join). Fenced, so the key is
/// computed once per row.
fn one_key_rows(inner: &str, local_param: &str, only_keyed: bool) -> String {
    let rows = format!(
        "(SELECT document, sk0 AS lookup_rn, {}(document, {local_param}::text) AS key FROM ({inner}) i OFFSET 0) k",
        sql_names::LOOKUP_KEY
    );
    if only_keyed {
        format!("(SELECT * FROM {rows} WHERE k.key IS NOT NULL) k")
    } else {
        rows
    }
}

/// A `$group` folded into the `$lookup` + `$unwind` join before it: the `_id` spec (as
/// `{"": expr}`) and the accumulators `(field, {op: arg}, side)`, each over one side's
/// document (`Pipeline::foldable_group`).
struct FoldedGroup {
    id_spec: Vec<u8>,
    id_side: JoinSide,
    accumulators: Vec<(String, RawDocumentBuf, JoinSide)>,
}

/// A parsed `$group` (`Pipeline::parse_group`).
struct GroupSpec<'a> {
    id: RawBsonRef<'a>,
    /// (output field, `{op: arg}`).
    accumulators: Vec<(String, RawDocumentBuf)>,
    /// Whether an accumulator depends on the input order (`$first`, `$push`...).
    order_sensitive: bool,
}

fn wrap_value_doc(value: RawBsonRef<'_>) -> Vec<u8> {
    documentdb_query::document::single_value_document(value).into_bytes()
}

impl Pipeline {
    /// A pipeline with no stage yet reading `level`'s source (the table of `collection`,
    /// when it reads one).
    fn over_source(b: SqlBuilder, database: &str, level: Level, collection: Option<Collection>) -> Pipeline {
        Pipeline {
            b,
            database: database.to_owned(),
            level,
            depth: 0,
            base_depth: 0,
            collection,
            shard_key_added: false,
            stages_added: 0,
            index_key_param: None,
        }
    }

    /// A pipeline over a collection (views resolve to their base collection's pipeline).
    pub fn over_collection(collection: &Collection) -> DocDbResult<Pipeline> {
        Self::over_collection_at(collection, 0)
    }

    /// [`Pipeline::over_collection`] with aliases numbered from `base_depth` (a nested
    /// pipeline's, apart from the enclosing one's, which its subqueries may reference).
    fn over_collection_at(collection: &Collection, base_depth: usize) -> DocDbResult<Pipeline> {
        let mut depth = 0;
        let mut current = collection.clone();
        let mut view_stages: Vec<RawDocumentBuf> = Vec::new();
        while let Some(def) = current.view_definition.clone() {
            depth += 1;
            if depth > MAX_VIEW_DEPTH {
                bail!(
                    ViewDepthLimitExceeded,
                    "View depth too deep or view cycle detected. Maximum depth is {MAX_VIEW_DEPTH}"
                );
            }
            let on = def
                .get_str("viewOn")
                .map_err(|_| docdb_error!(InvalidViewDefinition, "view definition lacks viewOn"))?;
            let mut stages: Vec<RawDocumentBuf> = Vec::new();
            if let Ok(pipeline) = def.get_array("pipeline") {
                for s in pipeline.into_iter().flatten() {
                    if let RawBsonRef::Document(d) = s {
                        stages.push(d.to_owned());
                    }
                }
            }
            stages.extend(view_stages);
            view_stages = stages;
            current = match catalog::lookup(&current.database, on)? {
                Some(c) => c,
                None => {
                    // A view on a missing collection behaves as a view on an empty one.
                    return Self::over_missing(&current.database, view_stages, base_depth);
                }
            };
        }
        let mut b = SqlBuilder::new();
        b.exclude_hidden_indexes(&current);
        let level = Level::over(current.table());
        let database = current.database.clone();
        let mut pipeline = Pipeline::over_source(b, &database, level, Some(current));
        pipeline.set_base_depth(base_depth);
        pipeline.add_stages(view_stages.iter().map(|s| s.as_ref()))?;
        Ok(pipeline)
    }

    fn over_missing(database: &str, stages: Vec<RawDocumentBuf>, base_depth: usize) -> DocDbResult<Pipeline> {
        let mut pipeline = Pipeline::over_source(SqlBuilder::new(), database, Level::over(EMPTY_SOURCE.into()), None);
        pipeline.set_base_depth(base_depth);
        pipeline.add_stages(stages.iter().map(|s| s.as_ref()))?;
        Ok(pipeline)
    }

    /// The source of `{aggregate: 1}`: its first stage, which must be one that produces
    /// documents without a collection. `$documents` (MongoDB 5.1) is evaluated here, with
    /// the command's `let` variables (which the pipeline keeps); the gateway answers
    /// `$listLocalSessions` and `$currentOp` by rewriting them into `$documents`.
    fn collectionless(
        database: &str,
        first: Option<&RawDocument>,
        vars: Option<RawDocumentBuf>,
    ) -> DocDbResult<Pipeline> {
        let Some(first) = first else {
            bail!(InvalidNamespace, "{{aggregate: 1}} is not valid for an empty pipeline; a collection is required.");
        };
        let (name, value) = stage_of(first)?;
        match name {
            "$documents" => {
                let mut b = SqlBuilder::with_vars(vars);
                let docs = documents_stage_values(value, &b.ctx()?)?;
                let from = if docs.is_empty() {
                    EMPTY_SOURCE.to_owned()
                } else {
                    let rows: Vec<String> = docs
                        .into_iter()
                        .map(|d| format!("({}::documentdb_core.bson)", b.param(OwnedParam::Bson(d))))
                        .collect();
                    format!("(VALUES {}) documents(document)", rows.join(", "))
                };
                Ok(Pipeline::over_source(b, database, Level::over(from), None))
            }
            "$listLocalSessions" => bail!(
                CommandNotSupported,
                "$listLocalSessions lists the sessions cached by the gateway; run it through the gateway"
            ),
            "$currentOp" | "$changeStream" | "$queryStats" => {
                bail!(NotImplemented, "the {name} aggregation stage is not supported yet")
            }
            _ => bail!(InvalidNamespace, "{{aggregate: 1}} is not valid for '{name}'; a collection is required."),
        }
    }

    /// Numbers this (nested, stage-less) pipeline's aliases from `depth`.
    fn set_base_depth(&mut self, depth: usize) {
        self.depth = depth;
        self.base_depth = depth;
    }

    /// Closes the current level as a subquery of a fresh one.
    fn wrap(&mut self, keep_order: bool) {
        self.depth += 1;
        let alias = format!("s{}", self.depth);
        let keys = if keep_order { self.level.order_keys.clone() } else { Vec::new() };
        let mut inner = self.level.sql(&keys);
        if !self.level.identity && !self.level.has_row_limits() && self.level.group_by.is_none() {
            // A fence: PostgreSQL would otherwise pull the subquery up and copy its select
            // expression into every reference to `document` above (a `$group` reads it once
            // for its key and once per accumulator), computing it as many times per row.
            // Measured: `$addFields` then `$group` with two accumulators, 100k documents,
            // 0.60 s unfenced.
            inner.push_str(" OFFSET 0");
        }
        let mut level = Level::over(format!("({inner}) {alias}"));
        level.text_score = self.level.text_score.as_ref().map(|_| format!("{alias}.text_score"));
        level.index_key = self.level.index_key.as_ref().map(|_| format!("{alias}.index_key"));
        if keep_order && !keys.is_empty() {
            // The subquery's sort survives (a sorted subquery isn't flattened); expose its
            // keys for order-sensitive accumulators.
            level.order_keys = keys.iter().enumerate().map(|(i, (_, asc))| (format!("{alias}.sk{i}"), *asc)).collect();
        }
        self.level = level;
    }

    /// The collection whose table the current level reads directly (no stage has wrapped
    /// it yet), so filters and sorts can use the table's indexes.
    fn table_level(&self) -> Option<&Collection> {
        self.collection.as_ref().filter(|_| self.depth == self.base_depth)
    }

    /// Once the table-level query reads the primary key, its leading column's condition
    /// (once; see `SqlBuilder::uses_primary_key`).
    fn add_shard_key_condition(&mut self) {
        if !self.b.uses_primary_key || self.shard_key_added {
            return;
        }
        if let (true, Some(collection)) = (self.depth == self.base_depth, self.collection.as_ref()) {
            let condition = self.b.shard_key_condition(collection);
            self.level.where_.insert(0, condition);
            self.shard_key_added = true;
        }
    }

    fn bson_param(&mut self, bytes: Vec<u8>) -> String {
        let p = self.b.param(OwnedParam::Bson(bytes));
        format!("{p}::documentdb_core.bson")
    }

    /// Applies a per-document transformation `func(document, spec)`.
    /// Makes the command's `let` variables visible to the stages added from now on (a view's
    /// own stages, added before, don't see them).
    pub fn set_vars(&mut self, vars: Option<RawDocumentBuf>) {
        self.b.vars = vars;
    }

    /// The command's `hint`, for the collection the pipeline reads.
    pub fn use_hint(&mut self, hint: RawBsonRef<'_>) -> DocDbResult<()> {
        match &self.collection {
            Some(collection) => self.b.use_hint(collection, hint),
            None => Ok(()),
        }
    }

    /// Applies a per-document transformation without variables (no expressions involved).
    fn transform_plain(&mut self, func: &str, spec: Vec<u8>) {
        let p = self.bson_param(spec);
        self.level.select = format!("{func}({}, {p})", self.level.select);
        self.level.identity = false;
    }

    fn transform(&mut self, func: PerRow, spec: Vec<u8>) {
        let p = self.bson_param(spec);
        let args = format!("{}, {p}", self.level.select);
        self.level.select = self.b.call(func, &args);
        self.level.identity = false;
    }

    /// A projection without its `$meta` fields, and those fields; 40218 when it asks for a
    /// text score and the pipeline has none to give.
    fn split_meta(&self, spec: &RawDocument) -> DocDbResult<(RawDocumentBuf, MetaFields)> {
        let (rest, meta) = split_meta_projection(spec)?;
        if !meta.text_score.is_empty() && self.level.text_score.is_none() {
            return Err(super::query_text::no_text_score());
        }
        Ok((rest, meta))
    }

    /// Sets the `$meta` fields: the row's text score, and its index key. The index key is
    /// known over the collection's table (or carried from there); elsewhere the fields are
    /// left out, as MongoDB leaves them out when no index gave the document.
    fn add_meta_fields(&mut self, meta: &MetaFields) {
        if let Some(score) = self.level.text_score.clone() {
            for field in &meta.text_score {
                let name = self.b.param(OwnedParam::Text(field.clone()));
                self.level.select =
                    format!("{}({}, {name}::text, {score})", sql_names::WITH_TEXT_SCORE, self.level.select);
                self.level.identity = false;
            }
        }
        if meta.index_key.is_empty() {
            return;
        }
        if self.level.index_key.is_none() && self.table_level().is_some() {
            let (key, position) = self.b.index_key_of_document();
            self.index_key_param = Some(position);
            self.level.index_key = Some(key);
        }
        let Some(key) = self.level.index_key.clone() else { return };
        for field in &meta.index_key {
            let name = self.b.param(OwnedParam::Text(field.clone()));
            self.level.select = format!("{}({}, {name}::text, {key})", sql_names::WITH_INDEX_KEY, self.level.select);
            self.level.identity = false;
        }
    }

    /// ORDER BY keys of a `$sort` spec: `{$meta: "textScore"}` keys sort by the score,
    /// highest first (40218 without one), the others as `order_by` does.
    fn sort_keys(&mut self, spec: &RawDocument) -> DocDbResult<Vec<(String, bool)>> {
        if !spec.iter().flatten().any(|(_, v)| super::query_text::is_text_score(v)) {
            return order_by(self.table_level(), spec, "document");
        }
        let mut keys = Vec::new();
        for element in spec {
            let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
            if super::query_text::is_text_score(value) {
                let score = self.level.text_score.clone().ok_or_else(super::query_text::no_text_score)?;
                keys.push((score, false));
            } else {
                let mut one = RawDocumentBuf::new();
                one.append(key, value);
                keys.extend(order_by(self.table_level(), &one, "document")?);
            }
        }
        Ok(keys)
    }

    /// Adds stages in order. A `$lookup` directly followed by an `$unwind` of its `as`
    /// field runs as one join, as MongoDB's optimizer coalesces them.
    pub fn add_stages<'s>(&mut self, stages: impl IntoIterator<Item = &'s RawDocument>) -> DocDbResult<()> {
        let stages: Vec<&RawDocument> = stages.into_iter().collect();
        let mut i = 0;
        while i < stages.len() {
            if let (Ok(("$lookup", value)), Some(next)) = (stage_of(stages[i]), stages.get(i + 1)) {
                let consumed = self.add_lookup_unwind(stages[i], value, next, stages.get(i + 2).copied())?;
                if consumed > 0 {
                    i += consumed;
                    continue;
                }
            }
            self.add_stage(stages[i])?;
            i += 1;
        }
        Ok(())
    }

    pub fn add_stage(&mut self, stage: &RawDocument) -> DocDbResult<()> {
        let (name, value) = stage_of(stage)?;
        let position = self.stages_added;
        self.stages_added += 1;
        match name {
            "$match" => {
                let filter = doc_arg(name, value)?;
                if let Some((key, _)) =
                    filter.iter().flatten().find(|(k, _)| matches!(k.as_str(), "$where" | "$near" | "$nearSphere"))
                {
                    bail!(BadValue, "{} is not allowed inside of a $match aggregation expression", key.as_str());
                }
                // $text is answered by the collection's text index: only in a first $match.
                let has_text = filter.iter().flatten().any(|(k, _)| k.as_str() == "$text");
                if has_text && (position != 0 || self.depth != self.base_depth || self.collection.is_none()) {
                    return Err(DocDbError::new(
                        ErrorCode::new(17313),
                        "$match with $text is only allowed as the first pipeline stage",
                    ));
                }
                self.b.parse_filter(filter)?;
                if filter.is_empty() {
                    return Ok(());
                }
                if !self.level.identity || self.level.has_row_limits() || self.level.aggregated {
                    self.wrap(true);
                }
                if let (true, Some(collection)) = (self.depth == self.base_depth, self.collection.as_ref()) {
                    // Over the collection's table: the same conditions as find's, so its
                    // indexes serve the stage.
                    let conditions = self.b.filter_conditions(collection, Some(filter))?;
                    self.level.where_.extend(conditions);
                    self.add_shard_key_condition();
                    if has_text {
                        self.level.text_score = self.b.text_score.clone();
                    }
                } else {
                    let p = self.bson_param(filter.as_bytes().to_vec());
                    let call = self.b.call(sql_names::QUERY_MATCH, &format!("document, {p}"));
                    self.level.where_.push(call);
                }
            }
            "$sort" => {
                let spec = doc_arg(name, value)?;
                super::query_text::validate_sort(spec)?;
                if spec.is_empty() {
                    return Err(DocDbError::new(ErrorCode::new(15976), "$sort stage must have at least one sort key"));
                }
                if !self.level.identity || self.level.has_row_limits() || self.level.aggregated {
                    self.wrap(false);
                }
                let keys = self.sort_keys(spec)?;
                if self.table_level().is_some() && keys.iter().any(|(key, _)| key == PRIMARY_KEY) {
                    self.b.uses_primary_key = true;
                    self.add_shard_key_condition();
                }
                self.level.order = Some(
                    keys.iter()
                        .map(|(expr, asc)| format!("{expr} {}", if *asc { "ASC" } else { "DESC" }))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                self.level.order_keys = keys;
            }
            "$skip" => {
                let n = integral_arg(name, value, 15956)?;
                if n < 0 {
                    return Err(DocDbError::new(
                        ErrorCode::new(5107200),
                        "invalid argument to $skip stage: Expected a non-negative number",
                    ));
                }
                if self.level.limit.is_some() {
                    self.wrap(true);
                }
                self.level.offset += n;
            }
            "$limit" => {
                let n = integral_arg(name, value, 15957)?;
                if n <= 0 {
                    return Err(DocDbError::new(ErrorCode::new(15958), "the limit must be positive"));
                }
                self.level.limit = Some(self.level.limit.map_or(n, |l| l.min(n)));
            }
            "$project" => {
                let spec = doc_arg(name, value)?;
                let (rest, meta) = self.split_meta(spec)?;
                // `{score: {$meta: "textScore"}}` alone includes only `_id` besides it.
                let rest = if rest.is_empty() && !meta.is_empty() {
                    rawdoc! { "_id": 1 }
                } else {
                    rest
                };
                Projection::parse_project_stage_with_context(&rest, &self.b.ctx()?)?;
                self.transform(sql_names::PROJECT, rest.into_bytes());
                self.add_meta_fields(&meta);
            }
            "$addFields" | "$set" => {
                let spec = doc_arg(name, value)?;
                let (rest, meta) = self.split_meta(spec)?;
                if !rest.is_empty() || meta.is_empty() {
                    Projection::parse_add_fields_with_context(&rest, &self.b.ctx()?)?;
                    self.transform(sql_names::ADD_FIELDS, rest.into_bytes());
                }
                self.add_meta_fields(&meta);
            }
            "$unset" => {
                Projection::parse_unset(value)?;
                self.transform_plain(sql_names::UNSET, wrap_value_doc(value));
            }
            "$replaceRoot" | "$replaceWith" => {
                let expr = if name == "$replaceRoot" {
                    let spec = doc_arg(name, value)?;
                    spec.get("newRoot").ok().flatten().ok_or_else(|| {
                        DocDbError::new(ErrorCode::new(40231), "no newRoot specified for the $replaceRoot stage")
                    })?
                } else {
                    value
                };
                documentdb_query::expr::Expression::parse(expr, &self.b.ctx()?)?;
                self.transform(sql_names::REPLACE_ROOT, wrap_value_doc(expr));
            }
            "$count" => {
                let RawBsonRef::String(field) = value else {
                    return Err(DocDbError::new(ErrorCode::new(40156), "the count field must be a non-empty string"));
                };
                if field.is_empty() || field.starts_with('$') || field.contains('.') || field.contains('\0') {
                    return Err(DocDbError::new(
                        ErrorCode::new(40158),
                        "the count field must be a non-empty string, not start with '$', and not contain '.'",
                    ));
                }
                self.wrap(false);
                self.level.text_score = None;
                let key = self.b.param(OwnedParam::Text(field.to_owned()));
                self.level.select = format!("{}({key}::text, count(*)::int4)", sql_names::BUILD_DOCUMENT);
                self.level.identity = false;
                self.level.having = Some("count(*) > 0".into());
                self.level.aggregated = true;
            }
            "$group" => self.add_group(doc_arg(name, value)?)?,
            "$unwind" => self.add_unwind(value)?,
            "$sortByCount" => {
                let group = rawdoc! { "$group": { "_id": bson::RawBson::from(value), "count": { "$sum": 1 } } };
                self.add_stage(&group)?;
                self.add_stage(&rawdoc! { "$sort": { "count": -1 } })?;
            }
            "$documents" | "$listLocalSessions" => {
                return Err(DocDbError::new(
                    ErrorCode::new(40602),
                    format!("{name} is only valid as the first stage of a collection-less pipeline ({{aggregate: 1}})"),
                ));
            }
            "$collStats" => {
                let first = position == 0 && self.depth == self.base_depth;
                let Some(collection) = self.collection.as_ref().filter(|c| first && !c.is_view()) else {
                    return Err(DocDbError::new(
                        ErrorCode::new(40602),
                        "$collStats is only valid as the first stage in a pipeline",
                    ));
                };
                let doc = super::collection::coll_stats_document(collection, doc_arg(name, value)?)?;
                let row = self.bson_param(doc.into_bytes());
                self.level.from = format!("(VALUES ({row})) coll_stats(document)");
                self.collection = None;
            }
            "$indexStats" => {
                // The first stage over a collection's own table: the source becomes one
                // document per index.
                let first = position == 0 && self.depth == self.base_depth;
                let Some(collection) = self.collection.as_ref().filter(|c| first && !c.is_view()) else {
                    return Err(DocDbError::new(
                        ErrorCode::new(40602),
                        "$indexStats is only valid as the first stage in a pipeline",
                    ));
                };
                if !matches!(value, RawBsonRef::Document(d) if d.is_empty()) {
                    bail!(FailedToParse, "$indexStats takes an empty document as its argument");
                }
                let docs = super::indexes::index_stats(collection)?;
                self.level.from = if docs.is_empty() {
                    EMPTY_SOURCE.to_owned()
                } else {
                    let rows: Vec<String> = docs
                        .into_iter()
                        .map(|d| format!("({}::documentdb_core.bson)", self.b.param(OwnedParam::Bson(d.into_bytes()))))
                        .collect();
                    format!("(VALUES {}) index_stats(document)", rows.join(", "))
                };
                self.collection = None;
            }
            "$lookup" => self.add_lookup(stage, value)?,
            "$unionWith" => self.add_union_with(stage, value)?,
            "$facet" => self.add_facet(value)?,
            "$bucket" => {
                // MongoDB's own definition: $group on the bucket's lower boundary, sorted.
                let (group, sort) = documentdb_query::bucket::bucket_stages(value)?;
                self.add_stage(&group)?;
                self.add_stage(&sort)?;
            }
            "$sample" => {
                // A random order over the whole input, each document at most once.
                let size = documentdb_query::bucket::sample_size(value)?;
                self.wrap(false);
                self.level.order = Some("random()".into());
                self.level.limit = Some(size);
            }
            // The last stage is run by `aggregate_query` (`out_merge`); anywhere else is an error.
            "$out" | "$merge" => return Err(super::out_merge::not_last(name)),
            "$setWindowFields" => self.add_set_window_fields(value)?,
            "$fill" => {
                // MongoDB's own definition: $setWindowFields for the methods, then
                // $addFields for the values.
                for desugared in documentdb_query::fill::fill_stages(value)? {
                    self.add_stage(&desugared)?;
                }
            }
            "$redact" => {
                documentdb_query::redact::parse(value, &self.b.ctx()?)?;
                self.transform(sql_names::REDACT, wrap_value_doc(value));
                // A pruned document is NULL: drop it.
                self.wrap(true);
                self.level.where_.push("document IS NOT NULL".into());
            }
            "$bucketAuto" => self.add_bucket_auto(value)?,
            "$graphLookup" => self.add_graph_lookup(stage, value)?,
            "$densify" => self.add_densify(value)?,
            "$listSessions" => {
                bail!(
                    InvalidNamespace,
                    "$listSessions runs as the first stage of an aggregate on config.system.sessions (answered by the gateway)"
                )
            }
            "$geoNear" | "$currentOp" | "$changeStream" | "$planCacheStats" => {
                bail!(NotImplemented, "the {name} aggregation stage is not supported yet");
            }
            // As a mongod without Atlas Search answers them.
            "$search" | "$searchMeta" | "$vectorSearch" | "$listSearchIndexes" => {
                return Err(DocDbError::new(
                    ErrorCode::SearchNotEnabled,
                    documentdb_errors::SEARCH_NOT_ENABLED_MESSAGE,
                ));
            }
            _ => {
                return Err(DocDbError::new(
                    ErrorCode::new(40324),
                    format!("Unrecognized pipeline stage name: '{name}'"),
                ));
            }
        }
        Ok(())
    }

    /// `$lookup`: each document gets at `as` the array of the foreign collection's
    /// documents it matches, from a correlated subquery. The equality form's condition is
    /// the foreign table's `$in` operator (documentdb_query::lookup) and, with a
    /// single-valued index on `foreignField` (or `_id`), that index's key = ANY(local keys).
    /// The pipeline forms run the pipeline over the foreign collection (view) per document,
    /// its `let` variables computed from the document.
    fn add_lookup(&mut self, stage: &RawDocument, value: RawBsonRef<'_>) -> DocDbResult<()> {
        let lookup = documentdb_query::lookup::Lookup::parse(value)?;
        let database = self.database.clone();
        let foreign = match &lookup.from {
            Some(from) => {
                catalog::validate_collection_name(&database, from)?;
                let found = catalog::lookup(&database, from)?;
                crate::authz::require_data(found.as_ref(), documentdb_authz::Action::Find, &database, from, stage)?;
                found
            }
            None => None,
        };
        if let (Some((local_field, foreign_field)), None, Some(foreign)) =
            (&lookup.equality, &lookup.pipeline, &foreign)
        {
            if foreign_field == "_id" && !foreign.is_view() && self.reads_table_rows() {
                self.add_lookup_by_id(&lookup.as_field, foreign, local_field)?;
                return Ok(());
            }
        }
        // The local document must be one named row for the correlated subquery.
        self.wrap(true);
        let local = format!("s{}", self.depth);
        let as_field = self.b.param(OwnedParam::Text(lookup.as_field.clone()));
        let matches = match (&lookup.equality, &lookup.pipeline, foreign) {
            (Some((local_field, foreign_field)), None, Some(foreign)) if !foreign.is_view() => {
                self.lookup_equality(&foreign, &local, local_field, foreign_field)?
            }
            // A missing collection has no documents: every `as` is empty.
            (_, None, None) => "NULL::documentdb_core.bson".to_owned(),
            (_, _, foreign) => self.lookup_pipeline(&lookup, foreign, &local)?,
        };
        self.level.select = format!("{}({local}.document, {as_field}::text, {matches})", sql_names::LOOKUP_SET);
        self.level.identity = false;
        Ok(())
    }

    /// Whether this level reads the collection's table rows as they are (filtered at most):
    /// a join may then read them twice and order its output by row location.
    fn reads_table_rows(&self) -> bool {
        self.table_level().is_some()
            && self.level.order.is_none()
            && !self.level.has_row_limits()
            && self.level.text_score.is_none()
            && self.level.index_key.is_none()
            && !self.level.aggregated
    }

    /// `$lookup` on `foreignField: "_id"` (what ODMs send to resolve references) over the
    /// collection's table: at most one foreign document matches a local value, so the
    /// documents with one local key are left-joined to the foreign table as they are read
    /// (PostgreSQL hashes the foreign side, or probes its primary key for a few documents)
    /// and `as` is `[match]` or `[]`; the others (arrays, missing values, regexes) take the
    /// correlated subquery. Row locations keep the input's order. Measured: 100k orders to
    /// 10k customers then `$group`, 0.50 s as one probe per document, 0.17-0.20 s joined.
    fn add_lookup_by_id(&mut self, as_field: &str, foreign: &Collection, local_field: &str) -> DocDbResult<()> {
        let Some(foreign_key) = super::index_sql::index_key_expression_of(foreign, "_id", "f.")? else {
            bail!(InternalError, "no key expression for _id");
        };
        let inner = self.level.sql(&[("ctid".into(), true)]);
        self.depth += 1;
        let d = self.depth;
        let local_param = self.b.param(OwnedParam::Text(local_field.to_owned()));
        let as_param = self.b.param(OwnedParam::Text(as_field.to_owned()));
        let collection_id = self.b.param(OwnedParam::Int8(foreign.id));
        let correlated = self.lookup_equality(foreign, "i", local_field, "_id")?;
        let body = format!(
            "SELECT k.lookup_rn, {set_matched}(k.document, {as_param}::text, f.document) AS document \
             FROM {keyed} LEFT JOIN {table} f ON f.shard_key_value = {collection_id} AND {foreign_key} {eq} k.key \
             UNION ALL SELECT i.sk0, {set}(i.document, {as_param}::text, {correlated}) \
             FROM ({inner}) i WHERE NOT {has_one}(i.document, {local_param}::text)",
            set_matched = sql_names::LOOKUP_SET_MATCHED,
            keyed = one_key_rows(&inner, &local_param, true),
            table = foreign.table(),
            eq = sql_names::BSON_EQ,
            set = sql_names::LOOKUP_SET,
            has_one = sql_names::LOOKUP_HAS_ONE_KEY,
        );
        self.level = Level::over(format!("({body}) s{d}"));
        self.level.order = Some(format!("s{d}.lookup_rn"));
        self.level.order_keys = vec![(format!("s{d}.lookup_rn"), true)];
        self.collection = None;
        Ok(())
    }

    /// `$lookup` (equality form, `foreignField` with one index key per document or `_id`)
    /// followed by `$unwind` of `as` (without includeArrayIndex) as a join the planner may
    /// hash: one row per (document, match), in the documents' order. Documents whose local
    /// values have no index keys (arrays or regexes inside them) take the correlated path.
    /// A `$group` right after them whose expressions each read one side of the row is folded
    /// in: it reads the local and the foreign document directly, and no joined document is
    /// built (measured: 100k orders to 10k customers, `$group` by a customer field, 96-101
    /// ms → 64 ms at SQL level). Returns how many stages were added (0: the pair doesn't
    /// qualify and the stages are added one by one).
    fn add_lookup_unwind(
        &mut self,
        stage: &RawDocument,
        value: RawBsonRef<'_>,
        next: &RawDocument,
        following: Option<&RawDocument>,
    ) -> DocDbResult<usize> {
        let Ok(("$unwind", unwind_value)) = stage_of(next) else { return Ok(0) };
        let lookup = documentdb_query::lookup::Lookup::parse(value)?;
        let unwind = documentdb_query::unwind::Unwind::parse(unwind_value)?;
        let (Some((local_field, foreign_field)), Some(from), None) = (&lookup.equality, &lookup.from, &lookup.pipeline)
        else {
            return Ok(0);
        };
        if unwind.includes_array_index() || unwind.path() != lookup.as_field {
            return Ok(0);
        }
        catalog::validate_collection_name(&self.database, from)?;
        let Some(foreign) = catalog::lookup(&self.database, from)?.filter(|f| !f.is_view()) else {
            return Ok(0);
        };
        let Some(foreign_key) = super::index_sql::index_key_expression_of(&foreign, foreign_field, "f.")? else {
            return Ok(0);
        };
        crate::authz::require_data(Some(&foreign), documentdb_authz::Action::Find, &self.database, from, stage)?;
        self.stages_added += 2;
        // Straight over the collection's table (its rows filtered at most), the input can be
        // read twice: once joined by the one key most documents have, with no numbering or
        // materializing, and once for the rare others. Row locations (`ctid`) number both.
        let table_input = self.reads_table_rows();
        let inner = if table_input { self.level.sql(&[("ctid".into(), true)]) } else { self.level_sql_without_score() };
        self.depth += 1;
        let d = self.depth;
        let local_param = self.b.param(OwnedParam::Text(local_field.clone()));
        let as_name = lookup.as_field.clone();
        let as_field = self.b.param(OwnedParam::Text(as_name.clone()));
        let collection_id = self.b.param(OwnedParam::Int8(foreign.id));
        let unwind_spec = self.bson_param(unwind_document(unwind_value)?.into_bytes());
        let correlated = self.lookup_equality(&foreign, "l", local_field, foreign_field)?;
        let table = foreign.table();
        let (set_one, eq, key_of, keys_of) =
            (sql_names::LOOKUP_SET_ONE, sql_names::BSON_EQ, sql_names::LOOKUP_KEY, sql_names::LOOKUP_KEYS);
        let preserve = unwind.preserves_null_and_empty_arrays();
        let folded = match following {
            Some(group) if !preserve => self.foldable_group(group, &as_name)?,
            _ => None,
        };
        // A joined row: the local document with `as` set to the match, or, when a `$group`
        // is folded in, the two documents apart.
        let row = |local: &str, matched: &str| {
            if folded.is_some() {
                format!("{local} AS local_doc, {matched} AS foreign_doc")
            } else {
                format!("{set_one}({local}, {as_field}::text, {matched}) AS document")
            }
        };
        // Several keys (or one inside an array) are unnested first.
        let several = format!(
            "SELECT l.lookup_rn, {} FROM l CROSS JOIN LATERAL unnest(l.keys) k(key) \
             JOIN {table} f ON f.shard_key_value = {collection_id} AND {foreign_key} {eq} k.key \
             WHERE l.key IS NULL AND l.keys IS NOT NULL",
            row("l.document", "f.document")
        );
        // The correlated path unwinds joined documents; folded, their `as` is the match.
        let unwound = if folded.is_some() {
            format!("u.unwound AS local_doc, {}(u.unwound, {as_field}::text) AS foreign_doc", sql_names::LOOKUP_MATCH)
        } else {
            "u.unwound AS document".to_owned()
        };
        let fallback = format!(
            "SELECT l.lookup_rn, {unwound} FROM l CROSS JOIN LATERAL \
             {unwind}({set}(l.document, {as_field}::text, {correlated}), {unwind_spec}) u(unwound) \
             WHERE l.key IS NULL AND l.keys IS NULL",
            unwind = sql_names::UNWIND,
            set = sql_names::LOOKUP_SET,
        );
        // `l`: the documents `several` and `fallback` read (over other input, all of them,
        // numbered); `one_key`: the join of the documents with one key (a scalar local
        // value, the common case) on the key column directly.
        let (local, one_key) = if table_input {
            // Only the documents without one key are set apart. The others are joined as
            // read (an inner join drops NULL keys; preserving, the left join keeps the
            // unmatched ones, their `as` removed).
            let local = format!(
                "SELECT document, NULL::{bson} AS key, {keys_of}(document, {local_param}::text) AS keys, \
                 sk0 AS lookup_rn FROM ({inner}) i WHERE NOT {has_one}(document, {local_param}::text)",
                bson = sql_names::BSON,
                has_one = sql_names::LOOKUP_HAS_ONE_KEY
            );
            let (keyed, join) = if preserve {
                (one_key_rows(&inner, &local_param, true), "LEFT JOIN")
            } else {
                (one_key_rows(&inner, &local_param, false), "JOIN")
            };
            let one_key = format!(
                "SELECT k.lookup_rn, {} \
                 FROM {keyed} {join} {table} f ON f.shard_key_value = {collection_id} AND {foreign_key} {eq} k.key",
                row("k.document", "f.document")
            );
            (local, one_key)
        } else {
            // Documents with one local value (the common case) carry their key; the others
            // their keys (NULL when an array or regex among them rules the index out).
            let local = format!(
                "SELECT document, key, CASE WHEN key IS NULL THEN {keys_of}(document, {local_param}::text) END AS keys, \
                 row_number() OVER () AS lookup_rn FROM \
                 (SELECT document, {key_of}(document, {local_param}::text) AS key FROM ({inner}) i) i"
            );
            let one_key = format!(
                "SELECT l.lookup_rn, {} \
                 FROM l JOIN {table} f ON f.shard_key_value = {collection_id} AND {foreign_key} {eq} l.key",
                row("l.document", "f.document")
            );
            (local, one_key)
        };
        let body = if preserve {
            // Documents without matches stay, without the `as` field: those of `l` with keys
            // that matched nothing (and, over other input, the one-key ones).
            let (matched, joined) = if table_input {
                (several, format!("{one_key} UNION ALL "))
            } else {
                (format!("{one_key} UNION ALL {several}"), String::new())
            };
            format!(
                "WITH l AS MATERIALIZED ({local}), m AS MATERIALIZED ({matched}) \
                 {joined}SELECT lookup_rn, document FROM m \
                 UNION ALL SELECT lookup_rn, {set_one}(document, {as_field}::text, NULL) FROM l \
                 WHERE (key IS NOT NULL OR keys IS NOT NULL) \
                 AND NOT EXISTS (SELECT 1 FROM m WHERE m.lookup_rn = l.lookup_rn) \
                 UNION ALL {fallback}"
            )
        } else {
            format!("WITH l AS MATERIALIZED ({local}) {one_key} UNION ALL {several} UNION ALL {fallback}")
        };
        self.level = Level::over(format!("({body}) s{d}"));
        if let Some(group) = folded {
            self.collection = None;
            self.stages_added += 1;
            let column = |side: JoinSide| match side {
                JoinSide::Local => format!("s{d}.local_doc"),
                JoinSide::Foreign => format!("s{d}.foreign_doc"),
            };
            let accumulators =
                group.accumulators.into_iter().map(|(field, acc, side)| (field, acc, column(side))).collect();
            self.group_level(group.id_spec, &column(group.id_side), accumulators);
            return Ok(3);
        }
        self.level.order = Some(format!("s{d}.lookup_rn"));
        self.level.order_keys = vec![(format!("s{d}.lookup_rn"), true)];
        self.collection = None;
        Ok(2)
    }

    /// A `$group` stage that can be folded into the `$lookup` + `$unwind` join before it
    /// (`as_field` the lookup's `as`): each of its expressions reads one side of the joined
    /// row, and no accumulator depends on the input order. Its expressions come back over
    /// their side's document (`documentdb_query::lookup::expression_side`).
    fn foldable_group(&self, stage: &RawDocument, as_field: &str) -> DocDbResult<Option<FoldedGroup>> {
        use documentdb_query::lookup::expression_side;
        let Ok(("$group", RawBsonRef::Document(spec))) = stage_of(stage) else { return Ok(None) };
        let group = self.parse_group(spec)?;
        if group.order_sensitive {
            return Ok(None);
        }
        let Some((id_side, id)) = expression_side(group.id, as_field) else { return Ok(None) };
        let mut accumulators = Vec::new();
        for (field, acc) in &group.accumulators {
            let Some(Ok((op, arg))) = acc.iter().next() else { return Ok(None) };
            // Accumulators whose argument is one expression (others, as `$top`'s `sortBy`,
            // name fields without `$`).
            if !matches!(
                op.as_str(),
                "$sum"
                    | "$avg"
                    | "$min"
                    | "$max"
                    | "$count"
                    | "$stdDevPop"
                    | "$stdDevSamp"
                    | "$addToSet"
                    | "$mergeObjects"
            ) {
                return Ok(None);
            }
            let Some((side, arg)) = expression_side(arg, as_field) else { return Ok(None) };
            let mut rewritten = RawDocumentBuf::new();
            rewritten.append(op, arg);
            accumulators.push((field.clone(), rewritten, side));
        }
        Ok(Some(FoldedGroup { id_spec: wrap_value_doc(id.as_raw_bson_ref()), id_side, accumulators }))
    }

    /// The matches of the equality form, read from the foreign table itself (its columns
    /// unqualified: the local document is `{local}.document`).
    fn lookup_equality(
        &mut self,
        foreign: &Collection,
        local: &str,
        local_field: &str,
        foreign_field: &str,
    ) -> DocDbResult<String> {
        let equality = self.lookup_equality_condition(foreign, local, local_field, foreign_field)?;
        let subquery = |restriction: &str| {
            format!(
                "(SELECT {}(document, '') FROM {} WHERE {restriction}{})",
                sql_names::ARRAY_AGG,
                foreign.table(),
                equality.condition
            )
        };
        Ok(match &equality.index {
            Some((keys, by_key)) => {
                format!(
                    "CASE WHEN {keys} IS NULL THEN {} ELSE {} END",
                    subquery(""),
                    subquery(&format!("{by_key} AND "))
                )
            }
            None => subquery(""),
        })
    }

    /// The equality form's condition on a foreign document (columns of the foreign table).
    fn lookup_equality_condition(
        &mut self,
        foreign: &Collection,
        local: &str,
        local_field: &str,
        foreign_field: &str,
    ) -> DocDbResult<LookupEquality> {
        let local_field = self.b.param(OwnedParam::Text(local_field.to_owned()));
        let foreign_param = self.b.param(OwnedParam::Text(foreign_field.to_owned()));
        let condition = format!(
            "document OPERATOR(documentdb_api_catalog.@*=) {}({local}.document, {local_field}::text, {foreign_param}::text)",
            sql_names::LOOKUP_CONDITION
        );
        // An index with one key per document on foreignField: its key equals one of the
        // local values' keys (an index scan per local document); the `$in` condition
        // rechecks. Local arrays or regexes (no keys) read the collection.
        let index = match super::index_sql::index_key_expression(foreign, foreign_field)? {
            Some(key) => {
                let keys = format!("{}({local}.document, {local_field}::text)", sql_names::LOOKUP_KEYS);
                let shard = if key == PRIMARY_KEY {
                    format!("{} AND ", self.b.shard_key_condition(foreign))
                } else {
                    String::new()
                };
                let by_key = format!("{shard}{key} {} ANY ({keys})", sql_names::BSON_EQ);
                Some((keys, by_key))
            }
            None => None,
        };
        Ok(LookupEquality { index, condition })
    }

    /// The matches of the pipeline forms: the foreign collection (or view, or the
    /// pipeline's `$documents`) through the pipeline, restricted first by the equality
    /// condition when the stage has one; the `let` variables are computed per local
    /// document. A leading `$match` whose `$expr` equates a foreign field to a variable is
    /// served by the foreign collection's index on that field.
    fn lookup_pipeline(
        &mut self,
        lookup: &documentdb_query::lookup::Lookup,
        foreign: Option<Collection>,
        local: &str,
    ) -> DocDbResult<String> {
        let stages = lookup.pipeline.clone().unwrap_or_default();
        let starts_with_documents = stages.first().is_some_and(|s| matches!(stage_of(s), Ok(("$documents", _))));
        let mut nested = if starts_with_documents {
            let mut p =
                Pipeline::collectionless(&self.database, stages.first().map(|d| d.as_ref()), self.b.vars.clone())?;
            p.set_base_depth(self.depth + 100);
            p
        } else {
            self.nested_over(lookup.from.as_deref(), None)?
        };
        // The variables: the command's and the stage's `let`, evaluated per local document
        // (inlined as a literal, so nested pipelines may copy the expression).
        let mut let_names: Vec<String> = Vec::new();
        if let Some(let_spec) = &lookup.vars {
            let mut spec = rawdoc! { "let": let_spec.clone() };
            if let Some(outer) = &self.b.vars {
                spec.append(cstr("outer"), outer.clone());
            }
            let literal = crate::spi::quote_literal(&documentdb_bson::extjson::to_canonical_string(&spec));
            nested.b.vars_sql =
                Some(format!("{}({local}.document, {literal}::{})", sql_names::LOOKUP_LET, sql_names::BSON));
            let mut placeholders = self.b.vars.clone().unwrap_or_default();
            for (name, _) in let_spec.iter().flatten() {
                let_names.push(name.as_str().to_owned());
                placeholders.append(name, RawBsonRef::Null);
            }
            nested.b.vars = Some(placeholders);
        }
        if let (Some((local_field, foreign_field)), Some(collection)) = (&lookup.equality, foreign.as_ref()) {
            let equality = nested.lookup_equality_condition(collection, local, local_field, foreign_field)?;
            if nested.table_level().is_some() {
                // Straight over the foreign table: its index serves the condition.
                if let Some((keys, by_key)) = equality.index {
                    nested.level.where_.push(format!("({keys} IS NULL OR ({by_key}))"));
                }
                nested.level.where_.push(equality.condition);
            } else {
                nested.add_condition(equality.condition);
            }
        }
        if let (Some(first), Some(collection)) = (stages.first(), foreign.as_ref()) {
            if let (Ok(("$match", RawBsonRef::Document(filter))), Some(vars_sql)) =
                (stage_of(first), nested.b.vars_sql.clone())
            {
                if nested.table_level().is_some() {
                    for (path, var) in documentdb_query::lookup::expr_equalities(filter) {
                        if !let_names.contains(&var) {
                            continue;
                        }
                        if let Some(key) = super::index_sql::index_key_expression(collection, &path)? {
                            if key == PRIMARY_KEY {
                                nested.b.uses_primary_key = true;
                                nested.add_shard_key_condition();
                            }
                            let value = super::index_sql::sort_key_expression(&vars_sql, &var, true)?;
                            nested.level.where_.push(format!("{key} {} {value}", sql_names::BSON_EQ));
                        }
                    }
                }
            }
        }
        nested.add_stages(stages.iter().skip(usize::from(starts_with_documents)).map(|s| s.as_ref()))?;
        let sql = self.embed(nested);
        Ok(format!("(SELECT {}(f.document, '') FROM ({sql}) f)", sql_names::ARRAY_AGG))
    }

    /// Adds a condition on the current documents (column `document`), wrapping the level
    /// first when its output is not its source's documents.
    fn add_condition(&mut self, condition: String) {
        if !self.level.identity || self.level.has_row_limits() || self.level.aggregated {
            self.wrap(true);
        }
        self.level.where_.push(condition);
    }

    /// A pipeline over another source for a stage that nests one (`$unionWith`, `$facet`),
    /// with this pipeline's database and variables.
    fn nested_over(&self, collection: Option<&str>, source: Option<String>) -> DocDbResult<Pipeline> {
        // Subquery aliases are named by depth: keep the nested pipeline's apart from ours.
        let base = self.depth + 100;
        let mut nested = match (collection, source) {
            (_, Some(from)) => {
                let mut p = Pipeline::over_source(SqlBuilder::new(), &self.database, Level::over(from), None);
                p.set_base_depth(base);
                p
            }
            (Some(coll), None) => match catalog::lookup(&self.database, coll)? {
                Some(c) => Pipeline::over_collection_at(&c, base)?,
                None => Pipeline::over_missing(&self.database, Vec::new(), base)?,
            },
            (None, None) => Pipeline::over_missing(&self.database, Vec::new(), base)?,
        };
        nested.set_vars(self.b.vars.clone());
        Ok(nested)
    }

    /// The SQL of a nested pipeline, its parameters appended to this pipeline's.
    fn embed(&mut self, nested: Pipeline) -> String {
        let query = nested.into_query();
        let offset = self.b.params.len();
        self.b.params.extend(query.params);
        renumber_params(&query.sql, offset)
    }

    /// This level's query without its metadata columns (a set operation needs one column).
    fn level_sql_without_score(&mut self) -> String {
        let score = self.level.text_score.take();
        let key = self.level.index_key.take();
        let sql = self.level.sql(&[]);
        self.level.text_score = score;
        self.level.index_key = key;
        sql
    }

    /// `$unionWith` (4.4): this pipeline's documents, then those of another collection
    /// (optionally through a pipeline of its own): `UNION ALL`.
    fn add_union_with(&mut self, stage: &RawDocument, value: RawBsonRef<'_>) -> DocDbResult<()> {
        let invalid = |e: bson::error::Error| docdb_error!(InvalidBSON, "{e}");
        let (coll, stages) = match value {
            RawBsonRef::String(coll) => (Some(coll), Vec::new()),
            RawBsonRef::Document(spec) => {
                let mut coll = None;
                let mut stages = Vec::new();
                for element in spec {
                    let (key, v) = element.map_err(invalid)?;
                    match (key.as_str(), v) {
                        ("coll", RawBsonRef::String(c)) => coll = Some(c),
                        ("pipeline", RawBsonRef::Array(items)) => {
                            for item in items {
                                match item.map_err(invalid)? {
                                    RawBsonRef::Document(d) => stages.push(d.to_owned()),
                                    _ => bail!(TypeMismatch, "each element of '$unionWith.pipeline' must be an object"),
                                }
                            }
                        }
                        ("coll" | "pipeline", _) => {
                            bail!(TypeMismatch, "BSON field '$unionWith.{}' is the wrong type", key.as_str())
                        }
                        (other, _) => {
                            return Err(DocDbError::new(
                                ErrorCode::new(40415),
                                format!("BSON field '$unionWith.{other}' is an unknown field."),
                            ))
                        }
                    }
                }
                (coll, stages)
            }
            _ => bail!(FailedToParse, "the $unionWith stage specification must be an object or string"),
        };
        for nested_stage in &stages {
            if let Ok((name @ ("$out" | "$merge"), _)) = stage_of(nested_stage) {
                return Err(DocDbError::new(
                    ErrorCode::new(31441),
                    format!("{name} is not allowed within a $unionWith's sub-pipeline"),
                ));
            }
        }
        let mut nested = match coll {
            Some(c) => {
                catalog::validate_collection_name(&self.database, c)?;
                let found = catalog::lookup(&self.database, c)?;
                crate::authz::require_data(found.as_ref(), documentdb_authz::Action::Find, &self.database, c, stage)?;
                self.nested_over(Some(c), None)?
            }
            // Without `coll`, the pipeline starts from a source such as $documents (6.0).
            None => {
                let mut p =
                    Pipeline::collectionless(&self.database, stages.first().map(|d| d.as_ref()), self.b.vars.clone())?;
                p.set_base_depth(self.depth + 100);
                p
            }
        };
        nested.add_stages(stages.iter().skip(usize::from(coll.is_none())).map(|s| s.as_ref()))?;
        let other = self.embed(nested);
        let inner = self.level_sql_without_score();
        self.depth += 1;
        self.level = Level::over(format!("(({inner}) UNION ALL ({other})) s{}", self.depth));
        self.collection = None;
        Ok(())
    }

    /// `$facet`: one document with, for each named sub-pipeline, the array of its results over
    /// this pipeline's documents (computed once: a materialized CTE the facets read).
    fn add_facet(&mut self, value: RawBsonRef<'_>) -> DocDbResult<()> {
        let RawBsonRef::Document(spec) = value else {
            return Err(DocDbError::new(ErrorCode::new(15947), "a facet's fields must be specified in an object"));
        };
        if spec.is_empty() {
            return Err(DocDbError::new(ErrorCode::new(40169), "the $facet specification must be a non-empty object"));
        }
        let input = format!("facet_input{}", self.depth);
        let mut build_args = Vec::new();
        for element in spec {
            let (name, stages) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
            let name = name.as_str();
            if name.is_empty() || name.starts_with('$') || name.contains('.') {
                return Err(DocDbError::new(
                    ErrorCode::new(40352),
                    format!("a $facet output field must be a non-empty string without '.' or a leading '$': '{name}'"),
                ));
            }
            let RawBsonRef::Array(stages) = stages else {
                return Err(DocDbError::new(
                    ErrorCode::new(40170),
                    format!("arguments to $facet must be arrays, {name} is {:?}", stages.element_type()),
                ));
            };
            let mut nested = self.nested_over(None, Some(format!("{input} {input}_{}", build_args.len())))?;
            for item in stages {
                let RawBsonRef::Document(nested_stage) = item.map_err(|e| docdb_error!(InvalidBSON, "{e}"))? else {
                    bail!(TypeMismatch, "each stage of the $facet pipeline '{name}' must be an object");
                };
                let (stage_name, _) = stage_of(nested_stage)?;
                if matches!(
                    stage_name,
                    "$facet" | "$out" | "$merge" | "$indexStats" | "$collStats" | "$documents" | "$unionWith"
                ) {
                    return Err(DocDbError::new(
                        ErrorCode::new(40600),
                        format!("{stage_name} is not allowed to be used within a $facet stage"),
                    ));
                }
                nested.add_stage(nested_stage)?;
            }
            let sql = self.embed(nested);
            let key = self.b.param(OwnedParam::Text(name.to_owned()));
            build_args.push(format!(
                "{key}::text, coalesce((SELECT {}(f.document, '') FROM ({sql}) f), '{{ \"\" : [] }}'::documentdb_core.bson)",
                sql_names::ARRAY_AGG
            ));
        }
        let inner = self.level_sql_without_score();
        self.depth += 1;
        self.level = Level::over(format!(
            "(WITH {input} AS MATERIALIZED ({inner}) SELECT {}({}) AS document) s{}",
            sql_names::BUILD_DOCUMENT,
            build_args.join(", "),
            self.depth
        ));
        self.level.aggregated = true;
        self.collection = None;
        Ok(())
    }

    /// The SQL of an accumulator's spec for `bson_group_accumulate`, with the variables its
    /// expressions read: the command's (a constant), or a `$lookup` pipeline's, computed per
    /// local document (`bson_accumulator_with_vars`).
    fn accumulator_spec(&mut self, mut spec: RawDocumentBuf) -> String {
        if let Some(vars) = self.b.vars_sql.clone() {
            let p = self.bson_param(spec.into_bytes());
            return format!("{}({p}, {vars})", sql_names::ACCUMULATOR_WITH_VARS);
        }
        if let Some(vars) = &self.b.vars {
            spec.append(cstr(ACCUMULATOR_VARS), vars.clone());
        }
        self.bson_param(spec.into_bytes())
    }

    /// Reads a `$group` spec: its `_id` expression and its accumulators, validated.
    fn parse_group<'g>(&self, spec: &'g RawDocument) -> DocDbResult<GroupSpec<'g>> {
        let mut id_expr: Option<RawBsonRef<'_>> = None;
        let mut accumulators: Vec<(String, RawDocumentBuf)> = Vec::new();
        let mut order_sensitive = false;
        for element in spec {
            let (field, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
            let field = field.as_str();
            if field == "_id" {
                id_expr = Some(value);
                continue;
            }
            if field.contains('.') {
                return Err(DocDbError::new(
                    ErrorCode::new(40235),
                    format!("The field name '{field}' cannot contain '.'"),
                ));
            }
            if field.starts_with('$') {
                return Err(DocDbError::new(
                    ErrorCode::new(40236),
                    format!("The field name '{field}' cannot be an operator name"),
                ));
            }
            let RawBsonRef::Document(acc) = value else {
                return Err(DocDbError::new(
                    ErrorCode::new(40234),
                    format!("The field '{field}' must be an accumulator object"),
                ));
            };
            let mut iter = acc.iter();
            let (Some(Ok((op, arg))), None) = (iter.next(), iter.next()) else {
                return Err(DocDbError::new(
                    ErrorCode::new(40238),
                    format!("The field '{field}' must specify one accumulator"),
                ));
            };
            let parsed =
                documentdb_query::accumulators::Accumulator::parse_with_context(op.as_str(), arg, &self.b.ctx()?)?;
            order_sensitive |= parsed.op().depends_on_input_order();
            accumulators.push((field.to_owned(), acc.to_owned()));
        }
        let Some(id) = id_expr else {
            return Err(DocDbError::new(ErrorCode::new(15955), "a group specification must include an _id"));
        };
        documentdb_query::expr::Expression::parse(id, &self.b.ctx()?)?;
        Ok(GroupSpec { id, accumulators, order_sensitive })
    }

    fn add_group(&mut self, spec: &RawDocument) -> DocDbResult<()> {
        let group = self.parse_group(spec)?;
        // The input order matters only to accumulators that depend on it ($first, $push...):
        // otherwise PostgreSQL may group without sorting first.
        if !group.order_sensitive && !self.level.has_row_limits() {
            self.level.order = None;
        }
        self.wrap(group.order_sensitive);
        let accumulators = group.accumulators.into_iter().map(|(f, acc)| (f, acc, "document".to_owned())).collect();
        self.group_level(wrap_value_doc(group.id), "document", accumulators);
        Ok(())
    }

    /// Makes this level the grouping of its rows: the `_id` expression (`id_spec`, as
    /// `{"": expr}`) evaluated over the row's document column `id_document`, and each
    /// accumulator `(field, {op: arg}, document column)` over its own column.
    fn group_level(
        &mut self,
        id_spec: Vec<u8>,
        id_document: &str,
        accumulators: Vec<(String, RawDocumentBuf, String)>,
    ) {
        let order_keys = self.level.order_keys.clone();
        let id_param = self.bson_param(id_spec);
        let get = self.b.call(sql_names::EXPRESSION_GET, &format!("{id_document}, {id_param}"));
        let key = format!("coalesce({get}, '{{ \"\" : null }}'::documentdb_core.bson)");
        let order_suffix = if order_keys.is_empty() {
            String::new()
        } else {
            let keys: Vec<String> =
                order_keys.iter().map(|(k, asc)| format!("{k} {}", if *asc { "ASC" } else { "DESC" })).collect();
            format!(" ORDER BY {}", keys.join(", "))
        };
        let mut build_args = vec![format!("'_id'::text, {key}")];
        for (field, acc, document) in accumulators {
            let p = self.accumulator_spec(acc);
            let name = self.b.param(OwnedParam::Text(field));
            build_args.push(format!("{name}::text, {}({document}, {p}{order_suffix})", sql_names::GROUP_ACCUMULATE));
        }
        self.level.select = format!("{}({})", sql_names::BUILD_DOCUMENT, build_args.join(", "));
        self.level.identity = false;
        self.level.group_by = Some(key);
        self.level.order_keys.clear();
        self.level.aggregated = true;
        // Grouped rows have no text score (MongoDB drops the metadata).
        self.level.text_score = None;
        self.level.index_key = None;
    }

    /// `$bucketAuto`: the documents in key order numbered into buckets by a running
    /// aggregate (MongoDB's sizing: equal keys share a bucket, granularity boundaries), then
    /// grouped by bucket number with the output accumulators, each bucket's `_id` bounded by
    /// its neighbours' keys.
    fn add_bucket_auto(&mut self, value: RawBsonRef<'_>) -> DocDbResult<()> {
        let parsed = documentdb_query::bucket_auto::parse(value, &self.b.ctx()?)?;
        let mut spec = rawdoc! { "spec": bson::RawBson::from(value) };
        if let Some(vars) = &self.b.vars {
            spec.append(cstr("vars"), vars.clone());
        }
        let spec = self.bson_param(spec.into_bytes());
        let mut fields = Vec::new();
        for element in parsed.output() {
            let (field, acc) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
            let RawBsonRef::Document(acc) = acc else {
                bail!(InternalError, "$bucketAuto output field '{}' is not an accumulator", field.as_str());
            };
            let p = self.accumulator_spec(acc.to_owned());
            let name = self.b.param(OwnedParam::Text(field.as_str().to_owned()));
            fields.push(format!("{name}::text, {}(document, {p})", sql_names::GROUP_ACCUMULATE));
        }
        let fields = if fields.is_empty() {
            "'{}'::documentdb_core.bson".to_owned()
        } else {
            format!("{}({})", sql_names::BUILD_DOCUMENT, fields.join(", "))
        };
        let inner = self.level_sql_without_score();
        self.depth += 1;
        let d = self.depth;
        let keyed = format!(
            "SELECT document, {}(document, {spec}) AS kd, count(*) OVER () AS total FROM ({inner}) i{d}",
            sql_names::BUCKET_AUTO_KEY
        );
        let numbered = format!(
            "SELECT document, kd, {}(kd, total, {spec}) OVER (ORDER BY kd ROWS UNBOUNDED PRECEDING) AS b \
             FROM ({keyed}) k{d}",
            sql_names::BUCKET_AUTO_ASSIGN
        );
        let grouped = format!(
            "SELECT b, {acc}(kd, '{{ \"$first\" : \"$k\" }}'::documentdb_core.bson ORDER BY kd) AS b_min, \
             {acc}(kd, '{{ \"$last\" : \"$k\" }}'::documentdb_core.bson ORDER BY kd) AS b_max, {fields} AS b_fields \
             FROM ({numbered}) n{d} GROUP BY b",
            acc = sql_names::GROUP_ACCUMULATE
        );
        let output = format!(
            "SELECT {}(b_min, b_max, lead(b_min) OVER (ORDER BY b), lag(b_max) OVER (ORDER BY b), b_fields, {spec}) \
             AS document, b FROM ({grouped}) g{d}",
            sql_names::BUCKET_AUTO_OUTPUT
        );
        self.level = Level::over(format!("({output}) s{d}"));
        self.level.order = Some(format!("s{d}.b"));
        self.level.order_keys = vec![(format!("s{d}.b"), true)];
        self.level.aggregated = true;
        self.collection = None;
        Ok(())
    }

    fn add_unwind(&mut self, value: RawBsonRef<'_>) -> DocDbResult<()> {
        // Validates the specification when the pipeline is planned, as MongoDB does.
        documentdb_query::unwind::Unwind::parse(value)?;
        let spec = unwind_document(value)?;
        self.wrap(true);
        let p = self.bson_param(spec.into_bytes());
        let alias = format!("u{}", self.depth);
        let from = std::mem::take(&mut self.level.from);
        self.level.from = format!("{from} CROSS JOIN LATERAL {}(document, {p}) {alias}(unwound)", sql_names::UNWIND);
        self.level.select = format!("{alias}.unwound");
        self.level.identity = false;
        Ok(())
    }

    /// The final query.
    pub fn into_query(self) -> PageQuery {
        let planning = self.b.planning();
        PageQuery {
            sql: self.level.sql(&[]),
            params: self.b.params,
            resumable_scan: false,
            planning,
            index_key_param: self.index_key_param,
        }
    }
}

/// An `$unwind` stage's value as the document `bson_dollar_unwind` reads (`"$path"` is
/// `{path: "$path"}`).
fn unwind_document(value: RawBsonRef<'_>) -> DocDbResult<RawDocumentBuf> {
    match value {
        RawBsonRef::String(path) => Ok(rawdoc! { "path": path }),
        RawBsonRef::Document(d) => Ok(d.to_owned()),
        _ => bail!(InternalError, "$unwind specification is neither a string nor a document"),
    }
}

/// The equality form of `$lookup` as conditions on the foreign table's columns.
struct LookupEquality {
    /// With an index on `foreignField`: (the local document's keys, NULL when the index
    /// can't answer; the condition on the index key).
    index: Option<(String, String)>,
    /// The `$in` condition that decides.
    condition: String,
}

/// Reads an `aggregate` command and builds its query: (namespace, query, cursor options).
/// With `explaining`, the `cursor` option is not required. A final `$out`/`$merge` is left
/// out of the query (see [`aggregate_first_page`]).
pub fn aggregate_query(
    db: &str,
    spec_doc: &RawDocument,
    explaining: bool,
) -> DocDbResult<(String, PageQuery, CursorOptions)> {
    let (ns, query, opts, _) = aggregate_plan(db, spec_doc, explaining)?;
    Ok((ns, query, opts))
}

/// [`aggregate_query`] and the pipeline's final write stage, if it has one.
fn aggregate_plan(
    db: &str,
    spec_doc: &RawDocument,
    explaining: bool,
) -> DocDbResult<(String, PageQuery, CursorOptions, Option<WriteStage>)> {
    let target = spec::command_target(spec_doc, "aggregate")?;
    // `{aggregate: 1}` runs a pipeline that starts from a source stage instead of a collection.
    let coll = match target {
        RawBsonRef::String(s) => Some(s),
        RawBsonRef::Int32(1) | RawBsonRef::Int64(1) | RawBsonRef::Double(1.0) => None,
        _ => bail!(FailedToParse, "Invalid {{aggregate: ...}} value: must be a collection name string or 1"),
    };
    let mut pipeline_arr = None;
    let mut cursor_doc: Option<&RawDocument> = None;
    let mut explain = false;
    let mut vars = None;
    let mut hint = None;
    read_fields(spec_doc, "aggregate", |field| {
        match field.name {
            "pipeline" => pipeline_arr = Some(field.array()?),
            "cursor" => cursor_doc = Some(field.document()?),
            "explain" => explain = field.bool()?,
            "let" => vars = Some(super::vars::evaluate_let(field.document()?)?),
            "hint" => hint = Some(field.value),
            "allowDiskUse" | "bypassDocumentValidation" => {}
            "collation" => field.simple_collation()?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let Some(pipeline_arr) = pipeline_arr else {
        return Err(spec::missing("aggregate", "pipeline"));
    };
    if explain {
        bail!(CommandNotSupported, "aggregate with explain is answered by the explain command");
    }
    let cursor_doc = match cursor_doc {
        Some(c) => c.to_owned(),
        None if explaining || explain => RawDocumentBuf::new(),
        None => bail!(FailedToParse, "The 'cursor' option is required, except for aggregate with the explain argument"),
    };
    let mut batch_size = None;
    for element in &cursor_doc {
        let (k, v) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        match k.as_str() {
            "batchSize" => {
                let field = spec::Field { command: "aggregate.cursor", name: "batchSize", value: v };
                batch_size = Some(field.non_negative()?);
            }
            other => {
                return Err(DocDbError::new(
                    spec::UNKNOWN_FIELD,
                    format!("BSON field 'aggregate.cursor.{other}' is an unknown field."),
                ))
            }
        }
    }
    let mut stages = Vec::new();
    for (i, item) in pipeline_arr.into_iter().enumerate() {
        match item {
            Ok(RawBsonRef::Document(d)) => stages.push(d),
            _ => bail!(TypeMismatch, "Each element of the 'pipeline' array must be an object (element {i})"),
        }
    }
    // A final $out/$merge writes the results of the stages before it.
    let write_stage = match stages.last() {
        Some(last) => match stage_of(last) {
            Ok((name, value)) => WriteStage::parse(name, value)?,
            Err(_) => None,
        },
        None => None,
    };
    if write_stage.is_some() {
        stages.pop();
    }
    catalog::validate_database_name(db)?;
    let opts = CursorOptions { batch_size, limit: 0, single_batch: false };
    let (ns, mut pipeline, rest) = match coll {
        // Cursors of collection-less aggregations are named `<db>.$cmd.aggregate`, as mongod's.
        None => {
            let pipeline = Pipeline::collectionless(db, stages.first().copied(), vars)?;
            (format!("{db}.$cmd.aggregate"), pipeline, stages.get(1..).unwrap_or_default())
        }
        Some(coll) => {
            // A missing collection: the stages are validated against an empty source.
            let found = catalog::lookup(db, coll)?;
            crate::authz::require_data(found.as_ref(), documentdb_authz::Action::Find, db, coll, spec_doc)?;
            let mut pipeline = match found {
                Some(collection) => Pipeline::over_collection(&collection)?,
                None => Pipeline::over_missing(db, Vec::new(), 0)?,
            };
            // Set after the view's own stages: those don't see the command's variables.
            pipeline.set_vars(vars);
            if let Some(hint) = hint {
                pipeline.use_hint(hint)?;
            }
            (format!("{db}.{coll}"), pipeline, &stages[..])
        }
    };
    pipeline.add_stages(rest.iter().copied())?;
    // Only a pipeline reporting index keys needs its collection after the query is made.
    let collection = pipeline.index_key_param.and_then(|_| pipeline.collection.clone());
    let mut query = pipeline.into_query();
    if let Some(collection) = &collection {
        super::meta_fields::bind_index_key(&mut query, collection)?;
    }
    Ok((ns, query, opts, write_stage))
}

/// `aggregate_cursor_first_page`. A pipeline ending in `$out`/`$merge` writes its results
/// and answers an empty batch, as MongoDB does.
pub fn aggregate_first_page(db: &str, spec_doc: &RawDocument, cursor_id: i64) -> DocDbResult<FirstPage> {
    let (ns, query, opts, write_stage) = aggregate_plan(db, spec_doc, false)?;
    match write_stage {
        Some(stage) => {
            super::out_merge::run(db, &stage, query, spec_doc)?;
            cursor::first_page_from_documents(Vec::new(), &ns, None, 0)
        }
        None => cursor::first_page(query, &ns, opts, cursor_id),
    }
}

/// `find` on a view: the view's pipeline, then the find's filter, sort, skip, limit and
/// projection.
pub fn find_on_view(
    collection: &Collection,
    q: &QuerySpec<'_>,
    mut opts: CursorOptions,
    cursor_id: i64,
) -> DocDbResult<FirstPage> {
    let mut pipeline = Pipeline::over_collection(collection)?;
    pipeline.set_vars(q.vars.clone());
    if let Some(f) = q.filter.filter(|f| !f.is_empty()) {
        pipeline.add_stage(&rawdoc! { "$match": f.to_owned() })?;
    }
    if let Some(s) = q.sort.filter(|s| !s.is_empty()) {
        pipeline.add_stage(&rawdoc! { "$sort": s.to_owned() })?;
    }
    if q.skip > 0 {
        pipeline.add_stage(&rawdoc! { "$skip": q.skip })?;
    }
    if q.limit > 0 {
        pipeline.add_stage(&rawdoc! { "$limit": q.limit })?;
    }
    if let Some(p) = q.projection.filter(|p| !p.is_empty()) {
        let filter = q.filter.map(|f| f.to_owned()).unwrap_or_default();
        let pp = pipeline.bson_param(p.as_bytes().to_vec());
        let fp = pipeline.bson_param(filter.into_bytes());
        let args = format!("{}, {pp}, {fp}", pipeline.level.select);
        pipeline.level.select = pipeline.b.call(sql_names::PROJECT_FIND, &args);
        pipeline.level.identity = false;
    }
    opts.limit = 0;
    let ns = collection.namespace();
    cursor::first_page(pipeline.into_query(), &ns, opts, cursor_id)
}

fn single_value(query: PageQuery) -> DocDbResult<Option<Value>> {
    let params: Vec<_> = query.params.iter().map(OwnedParam::as_param).collect();
    let rows = spi::execute(&query.sql, &params, true, 1)?;
    Ok(rows.into_iter().next().and_then(|r| r.into_iter().next()))
}

pub fn count_on_view(collection: &Collection, filter: Option<&RawDocument>, skip: i64, limit: i64) -> DocDbResult<i64> {
    let mut pipeline = Pipeline::over_collection(collection)?;
    if let Some(f) = filter.filter(|f| !f.is_empty()) {
        pipeline.add_stage(&rawdoc! { "$match": f.to_owned() })?;
    }
    if skip > 0 {
        pipeline.add_stage(&rawdoc! { "$skip": skip })?;
    }
    if limit > 0 {
        pipeline.add_stage(&rawdoc! { "$limit": limit })?;
    }
    let inner = pipeline.into_query();
    let query = PageQuery {
        sql: format!("SELECT count(*) FROM ({}) c", inner.sql),
        params: inner.params,
        resumable_scan: false,
        planning: inner.planning,
        index_key_param: None,
    };
    Ok(single_value(query)?.and_then(|v| v.as_i64()).unwrap_or(0))
}

pub fn distinct_on_view(
    collection: &Collection,
    key: &str,
    filter: Option<&RawDocument>,
) -> DocDbResult<RawDocumentBuf> {
    let mut pipeline = Pipeline::over_collection(collection)?;
    if let Some(f) = filter.filter(|f| !f.is_empty()) {
        pipeline.add_stage(&rawdoc! { "$match": f.to_owned() })?;
    }
    let mut inner = pipeline.into_query();
    inner.params.push(OwnedParam::Text(key.to_owned()));
    let k = inner.params.len();
    let query = PageQuery {
        sql: format!(
            "SELECT {}(v, 'values') FROM (SELECT DISTINCT v FROM ({}) t, {}(t.document, ${k}::text) v ORDER BY v) d",
            sql_names::ARRAY_AGG,
            inner.sql,
            sql_names::DISTINCT_UNWIND
        ),
        params: inner.params,
        resumable_scan: false,
        planning: inner.planning,
        index_key_param: None,
    };
    Ok(single_value(query)?
        .and_then(Value::into_bson)
        .and_then(|b| RawDocumentBuf::from_bytes(b).ok())
        .unwrap_or_else(|| rawdoc! { "values": [] }))
}
