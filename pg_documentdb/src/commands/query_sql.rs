//! The SQL of a query on one collection, shared by `find`, `count`, `distinct`, `aggregate`,
//! updates and deletes: the filter becomes the WHERE clause (index-servable predicates as
//! operators, `_id` equality through the primary key, the full match as recheck), sort
//! becomes ORDER BY over sort keys, skip/limit become OFFSET/LIMIT, and the projection is
//! applied in the select list. Per-row functions are named through `sql_names`.

use bson::{rawdoc, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};
use documentdb_query::expr::ExprContext;
use documentdb_query::filter::{Filter, PushdownOp, PushdownPredicate};
use documentdb_query::index_bounds::{key_bounds, KeyBounds};
use documentdb_query::projection::Projection;
use documentdb_query::sort::SortSpec;

use super::cursor::{OwnedParam, PageQuery};
use super::index_sql::{
    cstr_key, has_array_condition, hashed_key_expression, index_filter, index_key_expression, index_predicates,
    key_bytes, sort_key_expression, terms_expression, wildcard_index, wildcard_keys_expression, PRIMARY_KEY,
};
use super::meta_fields::{split_meta_projection, MetaFields};
use super::query_text::{is_text_score, no_text_score, text_index_of, text_vector_expression};
use crate::catalog::Collection;
use crate::index_policy::{IndexChoice, TablePolicy};
use crate::spi::{PlanChoice, Planning};
use crate::sql_names::{self, PerRow, BSON};
use documentdb_query::text_search::{parse_text_operand, text_search_config};

/// The parts of a query on one collection.
pub struct QuerySpec<'a> {
    pub filter: Option<&'a RawDocument>,
    pub sort: Option<&'a RawDocument>,
    pub projection: Option<&'a RawDocument>,
    pub skip: i64,
    pub limit: i64,
    /// Evaluated `let` variables.
    pub vars: Option<RawDocumentBuf>,
    /// The index the command names (`hint`).
    pub hint: Option<RawBsonRef<'a>>,
    /// `returnKey`: each result is the key of the index read instead of the document.
    pub return_key: bool,
}

/// Builds SQL over a collection's table. `$n` parameters accumulate in `params`.
pub struct SqlBuilder {
    pub params: Vec<OwnedParam>,
    /// Evaluated `let` variables, when the command has any.
    pub vars: Option<RawDocumentBuf>,
    vars_param: Option<String>,
    /// Variables that differ per row of an enclosing query (a correlated `$lookup`
    /// pipeline's `let`): the SQL expression computing them, passed to `_let` functions
    /// instead of the constant `vars` (which then only name them, for parsing).
    pub vars_sql: Option<String>,
    /// Whether the WHERE clause bounds an index key (the primary key or a secondary
    /// index): the rows may then come in index order, not in `ctid` order.
    pub uses_index_bounds: bool,
    /// Whether the query reads the primary key `(shard_key_value, object_id)` (`_id`
    /// conditions or an `_id` sort): only then does the WHERE clause carry the shard key,
    /// a condition every row of the table meets that would otherwise mislead the planner's
    /// estimates (it has no statistics on a fresh table and takes it as selective).
    pub uses_primary_key: bool,
    /// Whether an index key range was emitted (see `spi::PlanChoice::Custom`).
    bounds_a_range: bool,
    /// The indexes the planner may use (a hint, hidden indexes).
    index_policy: Option<TablePolicy>,
    /// The key pattern of the index a hint names.
    pub hinted_key: Option<RawDocumentBuf>,
    /// Partial and sparse indexes whose filter the query implies (by catalog id), and
    /// whether their predicate is already among the conditions.
    partial_indexes: Vec<(i64, bool)>,
    /// The rank of a `$text` query's matches (`{$meta: "textScore"}`), once one is built.
    pub text_score: Option<String>,
}

impl SqlBuilder {
    pub fn new() -> SqlBuilder {
        SqlBuilder::with_vars(None)
    }

    /// A builder whose generated expressions see the command's `let` variables.
    pub fn with_vars(vars: Option<RawDocumentBuf>) -> SqlBuilder {
        SqlBuilder {
            params: Vec::new(),
            vars,
            vars_param: None,
            vars_sql: None,
            uses_index_bounds: false,
            uses_primary_key: false,
            bounds_a_range: false,
            index_policy: None,
            hinted_key: None,
            partial_indexes: Vec::new(),
            text_score: None,
        }
    }

    /// A call of a per-row function, or of its `_let` twin with the variables as last
    /// argument when the command has `let` variables.
    pub fn call(&mut self, func: PerRow, args: &str) -> String {
        if let Some(vars) = &self.vars_sql {
            return format!("{}({args}, {vars})", func.with_vars);
        }
        match self.vars.clone() {
            None => format!("{}({args})", func.plain),
            Some(vars) => {
                let v = match &self.vars_param {
                    Some(v) => v.clone(),
                    None => {
                        let v = self.param(OwnedParam::Bson(vars.into_bytes()));
                        self.vars_param = Some(v.clone());
                        v
                    }
                };
                format!("{}({args}, {v}::{BSON})", func.with_vars)
            }
        }
    }

    /// How the statement built so far should be planned.
    pub fn planning(&self) -> Planning {
        Planning {
            plan: if self.bounds_a_range { PlanChoice::Custom } else { PlanChoice::Generic },
            indexes: self.index_policy.clone(),
        }
    }

    /// Applies a command's `hint` (an index name, a key pattern or `{$natural: ±1}`): the
    /// statements built from now on may use that index only (none for `$natural`). MongoDB's
    /// error 2 when no visible index matches.
    pub fn use_hint(&mut self, collection: &Collection, hint: RawBsonRef<'_>) -> DocDbResult<()> {
        let unknown = || docdb_error!(BadValue, "hint provided does not correspond to an existing index");
        let choice = match hint {
            RawBsonRef::String(name) => {
                let index = collection.indexes.iter().find(|i| i.name() == name && !i.is_hidden());
                let index = index.ok_or_else(unknown)?;
                self.hinted_key = index.key().map(ToOwned::to_owned);
                IndexChoice::Only(index.relation_oids())
            }
            RawBsonRef::Document(key) if key.get("$natural").ok().flatten().is_some() => {
                if key.iter().count() != 1 {
                    return Err(unknown());
                }
                IndexChoice::NoIndexes
            }
            RawBsonRef::Document(key) => {
                let index = collection
                    .indexes
                    .iter()
                    .find(|i| !i.is_hidden() && i.key().is_some_and(|k| k.as_bytes() == key.as_bytes()));
                let index = index.ok_or_else(unknown)?;
                self.hinted_key = Some(key.to_owned());
                IndexChoice::Only(index.relation_oids())
            }
            _ => bail!(FailedToParse, "hint must be a string or an object"),
        };
        self.index_policy = Some(TablePolicy { table: collection.table_oid, choice });
        Ok(())
    }

    /// Whether a hint restricts the statements to one index (whose order rows come in).
    pub fn hints_an_index(&self) -> bool {
        matches!(self.index_policy, Some(TablePolicy { choice: IndexChoice::Only(_), .. }))
    }

    /// Hidden indexes are never chosen: without a hint, the policy excludes them.
    pub fn exclude_hidden_indexes(&mut self, collection: &Collection) {
        if self.index_policy.is_some() {
            return;
        }
        let hidden: Vec<u32> =
            collection.indexes.iter().filter(|i| i.is_hidden()).flat_map(|i| i.relation_oids()).collect();
        if !hidden.is_empty() {
            self.index_policy =
                Some(TablePolicy { table: collection.table_oid, choice: IndexChoice::Excluding(hidden) });
        }
    }

    /// The command's `let` variables as an expression context (empty without them).
    pub fn ctx(&self) -> DocDbResult<ExprContext> {
        match &self.vars {
            Some(vars) => crate::commands::vars::context_of(vars),
            None => Ok(ExprContext::default()),
        }
    }

    /// The filter parsed with this builder's variables.
    pub fn parse_filter(&self, filter: &RawDocument) -> DocDbResult<Filter> {
        Filter::parse_with_variables(filter, &self.ctx()?.variables)
    }

    pub fn param(&mut self, p: OwnedParam) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    /// The key of the row's `document` in the index the statement will read
    /// (`{$meta: "indexKey"}`), and the position in `params` of the NULL parameter standing
    /// for that index's key pattern until `meta_fields::bind_index_key` binds it.
    pub fn index_key_of_document(&mut self) -> (String, usize) {
        let pattern = self.param(OwnedParam::Null(crate::spi::ParamType::Bson));
        (format!("{}(document, {pattern}::{BSON})", sql_names::INDEX_KEY), self.params.len() - 1)
    }

    /// The WHERE clause of a query on the collection's table: its shard key and
    /// [`SqlBuilder::filter_conditions`].
    pub fn where_clause(&mut self, collection: &Collection, filter: Option<&RawDocument>) -> DocDbResult<String> {
        let mut conditions = self.filter_conditions(collection, filter)?;
        if self.uses_primary_key {
            conditions.insert(0, self.shard_key_condition(collection));
        }
        if conditions.is_empty() {
            return Ok("true".to_owned());
        }
        Ok(conditions.join(" AND "))
    }

    /// `shard_key_value = <collection id>`: the leading column of the primary key.
    pub fn shard_key_condition(&mut self, collection: &Collection) -> String {
        let shard = self.param(OwnedParam::Int8(collection.id));
        format!("shard_key_value = {shard}")
    }

    /// The AND-ed conditions of a filter on the collection's table (without the shard key):
    /// `_id` equality on the primary key, index key bounds, the index-servable predicates as
    /// operators, and the full match as recheck where those don't say it all.
    pub fn filter_conditions(
        &mut self,
        collection: &Collection,
        filter: Option<&RawDocument>,
    ) -> DocDbResult<Vec<String>> {
        self.exclude_hidden_indexes(collection);
        let mut conditions = Vec::new();
        let Some(filter_doc) = filter.filter(|f| !f.is_empty()) else {
            return Ok(conditions);
        };
        // A top-level $text is the text index's condition; the rest is an ordinary filter.
        let without_text;
        let filter_doc = match super::query_text::split_text(filter_doc)? {
            Some((rest, operand)) => {
                conditions.push(self.text_condition(collection, operand)?);
                without_text = rest;
                if without_text.is_empty() {
                    return Ok(conditions);
                }
                &without_text
            }
            None => filter_doc,
        };
        let parsed = self.parse_filter(filter_doc)?;
        self.partial_indexes = implied_partial_indexes(collection, &parsed);
        let mut exact_by_pushdown = false;
        let mut pushed = Vec::new();
        for predicate in parsed.pushdown_predicates() {
            if predicate.path == "_id" && predicate.op == PushdownOp::Eq {
                let value = predicate.value.as_raw_bson_ref();
                if is_exact_id_value(value) {
                    // The primary key answers `_id` equality.
                    let key = self.param(OwnedParam::Bson(key_bytes(value)));
                    conditions.push(format!("object_id {} {key}::{BSON}", sql_names::BSON_EQ));
                    self.uses_index_bounds = true;
                    self.uses_primary_key = true;
                    exact_by_pushdown = is_single_id_equality(filter_doc);
                    continue;
                }
            }
            pushed.push(predicate);
        }
        if exact_by_pushdown {
            return Ok(conditions);
        }
        let mut answered_by_key = Vec::new();
        for predicate in &pushed {
            answered_by_key.push(self.index_bound_conditions(collection, predicate, &mut conditions)?);
        }
        // Implied by $elemMatch: bounds only (a superset; the filter rechecks).
        for predicate in parsed.implied_index_predicates() {
            self.index_bound_conditions(collection, &predicate, &mut conditions)?;
        }
        for (path, prefix) in parsed.regex_prefixes() {
            let bounds = documentdb_query::index_bounds::prefix_bounds(&prefix);
            self.bounds_only_conditions(collection, &path, bounds, &mut conditions)?;
        }
        for (path, restriction) in parsed.key_restrictions() {
            if let Some(bounds) = documentdb_query::index_bounds::restriction_bounds(&restriction) {
                self.bounds_only_conditions(collection, &path, bounds, &mut conditions)?;
            }
        }
        for (predicate, exact) in pushed.iter().zip(answered_by_key) {
            if exact {
                continue;
            }
            let mut operand = RawDocumentBuf::new();
            operand.append(cstr_key(&predicate.path)?, predicate.value.clone());
            let p = self.param(OwnedParam::Bson(operand.into_bytes()));
            conditions.push(format!(
                "document OPERATOR(documentdb_api_catalog.{}) {p}::{BSON}",
                pushdown_operator(predicate.op)
            ));
        }
        // The full match is the recheck, unless the operators above already say it all.
        if !parsed.pushdown_is_complete() {
            let f = self.param(OwnedParam::Bson(filter_doc.as_bytes().to_vec()));
            let call = self.call(sql_names::QUERY_MATCH, &format!("document, {f}::{BSON}"));
            conditions.push(call);
        }
        Ok(conditions)
    }
}

impl SqlBuilder {
    /// Conditions on an index key that every document matching `predicate` satisfies, so
    /// PostgreSQL can scan that key range of a btree: `_id` on the primary key, other paths
    /// on a secondary index whose key for the path is single-valued (see
    /// `documentdb_query::index_bounds`). Nothing when no such index exists. Returns whether
    /// the key condition is the predicate itself (equality with values a single key equals
    /// exactly as MongoDB's `$eq` does), so the predicate's own operator is not needed.
    fn index_bound_conditions(
        &mut self,
        collection: &Collection,
        predicate: &PushdownPredicate,
        conditions: &mut Vec<String>,
    ) -> DocDbResult<bool> {
        if !self.hint_allows_bounds(&predicate.path) {
            return Ok(false);
        }
        // A hashed index led by the path answers equality where no btree leads with it.
        let leads = |i: &&crate::catalog::IndexEntry| {
            i.key().and_then(|k| k.iter().flatten().next()).is_some_and(|(p, _)| p.as_str() == predicate.path)
        };
        let btree_leads = collection
            .indexes
            .iter()
            .filter(leads)
            .any(|i| i.bounds_keys() && i.ascending_on(&predicate.path).is_some());
        if !btree_leads && self.hashed_conditions(collection, predicate, conditions) {
            return Ok(false);
        }
        let key = match self.single_valued_key(collection, &predicate.path, conditions)? {
            Some(key) => key,
            None if self.wildcard_conditions(collection, predicate, conditions)? => return Ok(false),
            None => return self.multikey_conditions(collection, predicate, conditions).map(|()| false),
        };
        let Some(bounds) = key_bounds(predicate) else { return Ok(false) };
        let exact_value = |v: &bson::RawBson| !matches!(v, bson::RawBson::Null | bson::RawBson::Undefined);
        let exact = match &bounds {
            KeyBounds::Equal(value) => exact_value(value),
            KeyBounds::OneOf(values) => values.iter().all(exact_value),
            KeyBounds::Range { .. } | KeyBounds::NoneOf(_) => false,
        };
        self.emit_bounds(&key, bounds, conditions);
        Ok(exact)
    }

    /// A regex anchored at the start (`{path: /^prefix/}`) on a single-valued index key: the
    /// range of strings starting with the prefix (the regex stays as recheck).
    /// Bounds that only narrow a single-valued key (a prefix regex, `$ne`, `$nin`, `$type`,
    /// `$exists: false`): emitted on such a key of `path` when one exists, never on a
    /// multikey or wildcard index.
    fn bounds_only_conditions(
        &mut self,
        collection: &Collection,
        path: &str,
        bounds: KeyBounds,
        conditions: &mut Vec<String>,
    ) -> DocDbResult<()> {
        if !self.hint_allows_bounds(path) {
            return Ok(());
        }
        let Some(key) = self.single_valued_key(collection, path, conditions)? else { return Ok(()) };
        self.emit_bounds(&key, bounds, conditions);
        Ok(())
    }

    /// Under a hint, only the hinted index's keys are worth bounding (the planner may use no
    /// other); `$natural` bounds none.
    fn hint_allows_bounds(&self, path: &str) -> bool {
        match (&self.index_policy, &self.hinted_key) {
            (Some(TablePolicy { choice: IndexChoice::NoIndexes, .. }), _) => false,
            (_, Some(hinted)) => hint_covers(hinted, path),
            _ => true,
        }
    }

    /// The key expression of an index holding one single-valued key per document for `path`:
    /// one over every document, or a partial or sparse one the query implies (its predicate
    /// then joins the conditions).
    fn single_valued_key(
        &mut self,
        collection: &Collection,
        path: &str,
        conditions: &mut Vec<String>,
    ) -> DocDbResult<Option<String>> {
        match index_key_expression(collection, path)? {
            Some(key) => Ok(Some(key)),
            None => self.partial_index_key(collection, path, conditions),
        }
    }

    /// Conditions restricting index key expression `key` to `bounds`.
    fn emit_bounds(&mut self, key: &str, bounds: KeyBounds, conditions: &mut Vec<String>) {
        let wrapped = |value: &bson::RawBson| key_bytes(value.as_raw_bson_ref());
        match bounds {
            KeyBounds::Equal(value) => {
                let p = self.param(OwnedParam::Bson(wrapped(&value)));
                conditions.push(format!("{key} {} {p}::{BSON}", sql_names::BSON_EQ));
            }
            KeyBounds::OneOf(values) => {
                let p = self.param(OwnedParam::BsonArray(values.iter().map(wrapped).collect()));
                conditions.push(format!("{key} {} ANY ({p}::{BSON}[])", sql_names::BSON_EQ));
            }
            KeyBounds::NoneOf(values) => {
                // The intervals between the excluded values (sorted): `key < v1 OR (v1 < key
                // AND key < v2) OR ... OR key > vn`, a bitmap OR of range scans.
                self.bounds_a_range = true;
                let params: Vec<String> = values.iter().map(|v| self.param(OwnedParam::Bson(wrapped(v)))).collect();
                let op = |o: &str, p: &str| format!("{key} OPERATOR(documentdb_core.{o}) {p}::{BSON}");
                let mut intervals = Vec::with_capacity(params.len() + 1);
                for (i, p) in params.iter().enumerate() {
                    match i.checked_sub(1).and_then(|j| params.get(j)) {
                        None => intervals.push(op("<", p)),
                        Some(previous) => intervals.push(format!("({} AND {})", op(">", previous), op("<", p))),
                    }
                }
                if let Some(last) = params.last() {
                    intervals.push(op(">", last));
                }
                conditions.push(format!("({})", intervals.join(" OR ")));
            }
            KeyBounds::Range { lower, upper } => {
                self.bounds_a_range = true;
                for (bound, strict, inclusive) in [(lower, ">", ">="), (upper, "<", "<=")] {
                    if let Some(bound) = bound {
                        let p = self.param(OwnedParam::Bson(wrapped(&bound.value)));
                        let op = if bound.inclusive { inclusive } else { strict };
                        conditions.push(format!("{key} OPERATOR(documentdb_core.{op}) {p}::{BSON}"));
                    }
                }
            }
        }
        self.uses_index_bounds = true;
        self.uses_primary_key |= key == PRIMARY_KEY;
    }
}

/// The partial and sparse indexes `query` may use (MongoDB's rule: the query implies the
/// index filter; see `documentdb_query::partial_index`), single-valued and visible.
fn implied_partial_indexes(collection: &Collection, query: &Filter) -> Vec<(i64, bool)> {
    collection
        .indexes
        .iter()
        .filter(|i| !i.covers_every_document() && !i.multikey && !i.is_hidden())
        .filter(|i| {
            index_filter(&i.spec)
                .and_then(|f| Filter::parse(&f).ok())
                .is_some_and(|f| documentdb_query::partial_index::query_implies(query, &f))
        })
        .map(|i| (i.id, false))
        .collect()
}

impl SqlBuilder {
    /// Equality and `$in` on a path a wildcard index covers: its keys hold `{p: path, v:
    /// value}` for every value the path reaches (the predicate rechecks). Whether added.
    fn wildcard_conditions(
        &mut self,
        collection: &Collection,
        predicate: &PushdownPredicate,
        conditions: &mut Vec<String>,
    ) -> DocDbResult<bool> {
        let mut found = None;
        for index in collection.indexes.iter().filter(|i| !i.is_hidden() && i.covers_every_document()) {
            if let Some(wildcard) = wildcard_index(&index.spec)? {
                if wildcard.covers(&predicate.path) {
                    found = Some(index);
                    break;
                }
            }
        }
        let Some(index) = found else { return Ok(false) };
        if matches!(predicate.op, PushdownOp::Gt | PushdownOp::Gte | PushdownOp::Lt | PushdownOp::Lte) {
            // `$gte: null` / `$lte: null` match missing fields, which have no key.
            if matches!(predicate.value, bson::RawBson::Null | bson::RawBson::Undefined) {
                return Ok(false);
            }
            // A range of the path's keys: `{p: path, v: lo}` to `{p: path, v: hi}` (each
            // comparison alone: an array's elements may satisfy two of them separately).
            let Some(KeyBounds::Range { lower, upper }) = key_bounds(predicate) else { return Ok(false) };
            let end = |bound: Option<documentdb_query::index_bounds::Bound>, open: bson::RawBson| match bound {
                Some(b) => {
                    (documentdb_query::wildcard_index::key(&predicate.path, b.value.as_raw_bson_ref()), b.inclusive)
                }
                None => (documentdb_query::wildcard_index::key(&predicate.path, open.as_raw_bson_ref()), true),
            };
            let (lo, lo_inclusive) = end(lower, bson::RawBson::MinKey);
            let (hi, hi_inclusive) = end(upper, bson::RawBson::MaxKey);
            let range = rawdoc! { "lo": lo, "loInc": lo_inclusive, "hi": hi, "hiInc": hi_inclusive };
            let p = self.param(OwnedParam::Bson(range.into_bytes()));
            conditions.push(format!(
                "{} {} {p}::{BSON}",
                wildcard_keys_expression(&index.spec),
                sql_names::KEY_IN_RANGE
            ));
            self.uses_index_bounds = true;
            self.bounds_a_range = true;
            return Ok(true);
        }
        let Some(values) = keyed_equality_values(predicate) else { return Ok(false) };
        let keys: Vec<Vec<u8>> = values
            .iter()
            .map(|v| documentdb_query::wildcard_index::key(&predicate.path, v.as_raw_bson_ref()).into_bytes())
            .collect();
        let p = self.param(OwnedParam::BsonArray(keys));
        conditions.push(format!("{} OPERATOR(pg_catalog.&&) {p}::{BSON}[]", wildcard_keys_expression(&index.spec)));
        self.uses_index_bounds = true;
        Ok(true)
    }

    /// Equality and `$in` on the hashed key of an index: the value's hash must be the key
    /// (the predicate stays as recheck: hashes collide). Whether conditions were added.
    fn hashed_conditions(
        &mut self,
        collection: &Collection,
        predicate: &PushdownPredicate,
        conditions: &mut Vec<String>,
    ) -> bool {
        let hashed = collection.indexes.iter().any(|i| {
            !i.is_hidden()
                && i.covers_every_document()
                && matches!(
                    i.key().and_then(|k| k.get(&predicate.path).ok().flatten()),
                    Some(RawBsonRef::String("hashed"))
                )
        });
        if !hashed {
            return false;
        }
        let Some(values) = keyed_equality_values(predicate) else { return false };
        // Arrays never equal a hashed key's single value.
        let keys: Vec<String> = values
            .iter()
            .filter(|v| !matches!(v, bson::RawBson::Array(_)))
            .map(|v| documentdb_query::index_bounds::hashed_value(v.as_raw_bson_ref()))
            .map(|h| self.param(OwnedParam::Int8(h)))
            .collect();
        if keys.is_empty() {
            return false;
        }
        conditions.push(format!("{} IN ({})", hashed_key_expression(&predicate.path), keys.join(", ")));
        self.uses_index_bounds = true;
        true
    }

    /// The key expression of a partial or sparse index the query implies, for `path`; adds
    /// the index's predicate to the conditions (once), verbatim, so PostgreSQL proves the
    /// partial index applies.
    fn partial_index_key(
        &mut self,
        collection: &Collection,
        path: &str,
        conditions: &mut Vec<String>,
    ) -> DocDbResult<Option<String>> {
        for slot in 0..self.partial_indexes.len() {
            let (id, added) = self.partial_indexes[slot];
            let Some(index) = collection.indexes.iter().find(|i| i.id == id) else { continue };
            let Some(ascending) = index.ascending_on(path) else { continue };
            if !added {
                conditions.extend(index_predicates(&index.spec));
                self.partial_indexes[slot].1 = true;
            }
            return sort_key_expression("document", path, ascending).map(Some);
        }
        Ok(None)
    }

    /// Equality and `$in` on the path of a multikey single-field index: a document matches
    /// through its btree key (one element of its array, or its single value) or, when it
    /// holds an array along the path, through the GIN index of all its keys. The two arms
    /// are what PostgreSQL combines as a BitmapOr of the two indexes (the second's partial
    /// predicate is the arm's first condition).
    fn multikey_conditions(
        &mut self,
        collection: &Collection,
        predicate: &PushdownPredicate,
        conditions: &mut Vec<String>,
    ) -> DocDbResult<()> {
        let path = predicate.path.as_str();
        // The companions index the key's leading path only.
        let leads = |i: &&crate::catalog::IndexEntry| {
            i.key().and_then(|k| k.iter().flatten().next()).is_some_and(|(p, _)| p.as_str() == path)
        };
        let Some((index, ascending)) = collection
            .indexes
            .iter()
            .filter(|i| i.multikey && i.terms_oid != 0 && !i.is_hidden() && i.covers_every_document())
            .filter(leads)
            .find_map(|i| Some((i, i.ascending_on(path)?)))
        else {
            return Ok(());
        };
        let Some(key) = index.key() else { return Ok(()) };
        if matches!(predicate.op, PushdownOp::Gt | PushdownOp::Gte | PushdownOp::Lt | PushdownOp::Lte) {
            if index.ends_oid != 0 {
                return self.multikey_range(path, ascending, key, predicate, conditions);
            }
            return Ok(());
        }
        let Some(values) = keyed_equality_values(predicate) else { return Ok(()) };
        let wrapped = |v: &bson::RawBson| key_bytes(v.as_raw_bson_ref());
        let mut arms = Vec::new();
        let scalars: Vec<Vec<u8>> =
            values.iter().filter(|v| !matches!(v, bson::RawBson::Array(_))).map(wrapped).collect();
        if !scalars.is_empty() {
            let p = self.param(OwnedParam::BsonArray(scalars));
            let btree = sort_key_expression("document", path, ascending)?;
            arms.push(format!("{btree} {} ANY ({p}::{BSON}[])", sql_names::BSON_EQ));
        }
        let all = self.param(OwnedParam::BsonArray(values.iter().map(wrapped).collect()));
        arms.push(format!(
            "({} AND {} OPERATOR(pg_catalog.&&) {all}::{BSON}[])",
            has_array_condition(key),
            terms_expression(path)
        ));
        conditions.push(format!("({})", arms.join(" OR ")));
        self.uses_index_bounds = true;
        Ok(())
    }

    /// A range on the path of a multikey single-field index. A document matches only if
    /// some element lies in the range, so its largest key is above a lower bound and its
    /// smallest below an upper bound (superset conditions; the predicate rechecks, and the
    /// type bracket is left to it since an array's ends may be of other types). One end is
    /// the index's btree over every document; the other comes from the btree of arrays'
    /// other ends, together with the first for documents without arrays.
    fn multikey_range(
        &mut self,
        path: &str,
        ascending: bool,
        key: &RawDocument,
        predicate: &PushdownPredicate,
        conditions: &mut Vec<String>,
    ) -> DocDbResult<()> {
        if matches!(
            predicate.value,
            bson::RawBson::Null
                | bson::RawBson::Undefined
                | bson::RawBson::MinKey
                | bson::RawBson::MaxKey
                | bson::RawBson::Array(_)
        ) {
            return Ok(());
        }
        let main = sort_key_expression("document", path, ascending)?;
        let ends = sort_key_expression("document", path, !ascending)?;
        // The smallest and largest keys: the ascending sort key is an array's smallest
        // element, the descending one its largest.
        let (smallest, largest) = if ascending { (&main, &ends) } else { (&ends, &main) };
        let lower = matches!(predicate.op, PushdownOp::Gt | PushdownOp::Gte);
        let op = match predicate.op {
            PushdownOp::Gt => ">",
            PushdownOp::Gte => ">=",
            PushdownOp::Lt => "<",
            _ => "<=",
        };
        let p = self.param(OwnedParam::Bson(key_bytes(predicate.value.as_raw_bson_ref())));
        let bounded = if lower { largest } else { smallest };
        let condition = format!("{bounded} OPERATOR(documentdb_core.{op}) {p}::{BSON}");
        if *bounded == main {
            conditions.push(condition);
        } else {
            // Documents without arrays: their one key is in the index over every document.
            let other = if lower { smallest } else { largest };
            conditions.push(format!(
                "({other} OPERATOR(documentdb_core.{op}) {p}::{BSON} OR ({} AND {condition}))",
                has_array_condition(key)
            ));
        }
        self.bounds_a_range = true;
        self.uses_index_bounds = true;
        Ok(())
    }
}

impl SqlBuilder {
    /// The condition of a `$text` operand: the text index's `tsvector` matches the search
    /// string's query (any term, every phrase, no negated term or phrase), each word
    /// normalised by the query's language. Records the rank for `{$meta: "textScore"}`.
    pub fn text_condition(&mut self, collection: &Collection, operand: RawBsonRef<'_>) -> DocDbResult<String> {
        let query = parse_text_operand(operand)?;
        let Some(index) = text_index_of(collection) else {
            return Err(DocDbError::new(ErrorCode::IndexNotFound, "text index required for $text query"));
        };
        let language = query.language.as_deref().unwrap_or(&index.default_language);
        let Some(config) = text_search_config(language) else {
            bail!(BadValue, "unsupported language: \"{language}\" for text search");
        };
        // `config` comes from a fixed table of names: safe as a literal.
        let cfg = format!("'{config}'::regconfig");
        let search = &query.search;
        if search.matches_nothing() {
            self.text_score = Some("0::float8".to_owned());
            return Ok("false".to_owned());
        }
        // A case- or diacritic-sensitive search narrows the index's matches by the words as
        // written; its negations are then only rechecked (the index would exclude documents
        // holding the word in another case or with other accents).
        let sensitive = query.case_sensitive || query.diacritic_sensitive;
        // The index holds text with diacritics folded (as MongoDB's ignores them): so do the
        // searched words, unless a diacritic-sensitive recheck wants them as written.
        let tsquery = |b: &mut SqlBuilder, folded: bool, negations: bool| {
            let mut word_query = |function: &str, text: &str| {
                let text = if folded { documentdb_query::text_search::fold_diacritics(text) } else { text.to_owned() };
                let p = b.param(OwnedParam::Text(text));
                format!("pg_catalog.{function}({cfg}, {p}::text)")
            };
            let any: Vec<String> = search.terms.iter().map(|t| word_query("plainto_tsquery", t)).collect();
            let mut parts = vec![format!("({})", any.join(" OPERATOR(pg_catalog.||) "))];
            for phrase in &search.phrases {
                parts.push(word_query("phraseto_tsquery", phrase));
            }
            for term in search.negated_terms.iter().filter(|_| negations) {
                parts.push(format!("(OPERATOR(pg_catalog.!!) {})", word_query("plainto_tsquery", term)));
            }
            for phrase in search.negated_phrases.iter().filter(|_| negations) {
                parts.push(format!("(OPERATOR(pg_catalog.!!) {})", word_query("phraseto_tsquery", phrase)));
            }
            parts.join(" OPERATOR(pg_catalog.&&) ")
        };
        let index_query = tsquery(self, true, !sensitive);
        let vector = text_vector_expression(&index);
        let [d, c, b, a] = index.rank_weights();
        self.text_score =
            // Normalisation 1 divides by 1 + log(document length): a term in a short text
            // weighs more, as in MongoDB's score.
            Some(format!("pg_catalog.ts_rank('{{{d},{c},{b},{a}}}'::float4[], {vector}, {index_query}, 1)::float8"));
        let matched = format!("({vector}) OPERATOR(pg_catalog.@@) ({index_query})");
        if !sensitive {
            return Ok(matched);
        }
        let stored_spec = super::query_text::text_index_spec_of(collection).unwrap_or_default();
        let spec = self.param(OwnedParam::Bson(stored_spec.into_bytes()));
        if query.case_sensitive {
            // Case-sensitive terms match whole words as written, not stems (MongoDB,
            // SERVER-17809): checked in Rust.
            let operand = self.param(OwnedParam::Bson(key_bytes(operand)));
            return Ok(format!(
                "{matched} AND {}(document, {spec}::{BSON}, {operand}::{BSON})",
                sql_names::TEXT_MATCHES_SENSITIVELY
            ));
        }
        // Diacritic-sensitive: the same stemmed search over the text as written (PostgreSQL's
        // configurations keep accents), negations included.
        let written_query = tsquery(self, false, true);
        Ok(format!(
            "{matched} AND pg_catalog.to_tsvector({}(document, {spec}::{BSON}), {}(document, {spec}::{BSON})) \
             OPERATOR(pg_catalog.@@) ({written_query})",
            sql_names::TEXT_CONFIG,
            sql_names::TEXT_WRITTEN
        ))
    }
}

/// The values an equality or `$in` compares with, when an index of keys (multikey terms,
/// hashes, wildcard keys) can answer it: none for other operators, an empty `$in`, or null
/// (it also matches missing and undefined values, which have no such key).
fn keyed_equality_values(predicate: &PushdownPredicate) -> Option<Vec<bson::RawBson>> {
    let values: Vec<bson::RawBson> = match (&predicate.op, &predicate.value) {
        (PushdownOp::Eq, value) => vec![value.clone()],
        (PushdownOp::In, bson::RawBson::Array(values)) => {
            values.into_iter().flatten().map(bson::RawBson::from).collect()
        }
        _ => return None,
    };
    let keyed =
        !values.is_empty() && !values.iter().any(|v| matches!(v, bson::RawBson::Null | bson::RawBson::Undefined));
    keyed.then_some(values)
}

/// Whether the hinted index's key pattern holds `path` (a wildcard key holds the paths it
/// covers).
fn hint_covers(hinted_key: &RawDocument, path: &str) -> bool {
    hinted_key.iter().flatten().any(|(key, _)| {
        key.as_str() == path
            || documentdb_query::wildcard_index::WildcardIndex::new(key.as_str(), None)
                .ok()
                .flatten()
                .is_some_and(|wildcard| wildcard.covers(path))
    })
}

impl Default for SqlBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// The SQL operator for a pushed-down predicate (sql/documentdb_api.sql).
fn pushdown_operator(op: PushdownOp) -> &'static str {
    match op {
        PushdownOp::Eq => "@=",
        PushdownOp::Gt => "@>",
        PushdownOp::Gte => "@>=",
        PushdownOp::Lt => "@<",
        PushdownOp::Lte => "@<=",
        PushdownOp::In => "@*=",
        PushdownOp::Exists => "@?",
    }
}

/// `_id` values the primary key compares exactly as MongoDB's equality would (regexes
/// match rather than equal; null also matches missing; arrays match elements).
fn is_exact_id_value(value: RawBsonRef<'_>) -> bool {
    !matches!(value, RawBsonRef::RegularExpression(_) | RawBsonRef::Null | RawBsonRef::Undefined | RawBsonRef::Array(_))
}

/// `{ _id: <value> }` or `{ _id: { $eq: <value> } }` and nothing else.
pub fn is_single_id_equality(filter: &RawDocument) -> bool {
    let mut iter = filter.iter();
    let (Some(Ok((key, value))), None) = (iter.next(), iter.next()) else {
        return false;
    };
    if key.as_str() != "_id" {
        return false;
    }
    match value {
        RawBsonRef::Document(d) => {
            let mut inner = d.iter();
            match (inner.next(), inner.next()) {
                (Some(Ok((op, v))), None) => op.as_str() == "$eq" && is_exact_id_value(v),
                (Some(Ok((first, _))), _) if !first.as_str().starts_with('$') => true,
                (None, None) => true,
                _ => false,
            }
        }
        other => is_exact_id_value(other),
    }
}

/// ORDER BY keys for a sort spec: one (sort-key expression, ascending) per key. The
/// expressions are those of the indexes `createIndexes` builds (inlined constants, not
/// parameters), so PostgreSQL can read them in index order: `_id` sorts by the primary key,
/// and a path that an index of `collection` keys single-valued sorts by that index's
/// expression in either direction (its ascending and descending sort keys coincide).
pub fn order_by(
    collection: Option<&Collection>,
    sort: &RawDocument,
    document_column: &str,
) -> DocDbResult<Vec<(String, bool)>> {
    let spec = SortSpec::parse(sort)?;
    let mut keys = Vec::with_capacity(spec.len());
    for i in 0..spec.len() {
        let (path, ascending) = spec.key(i);
        let indexed = match collection {
            Some(c) => index_key_expression(c, path)?,
            None => None,
        };
        let expression = match indexed {
            Some(e) => e,
            None => sort_key_expression(document_column, path, ascending)?,
        };
        keys.push((expression, ascending));
    }
    Ok(keys)
}

/// Parses the projection (with the filter, for positional `$`, and the `let` variables).
pub fn validate_projection(q: &QuerySpec<'_>) -> DocDbResult<()> {
    let Some(projection) = q.projection.filter(|p| !p.is_empty()) else { return Ok(()) };
    let (projection, _) = split_meta_projection(projection)?;
    if projection.is_empty() {
        return Ok(());
    }
    let projection = projection.as_ref();
    let b = SqlBuilder::with_vars(q.vars.clone());
    let filter = q.filter.map(|f| b.parse_filter(f)).transpose()?;
    Projection::parse_find_with_context(projection, filter.as_ref(), &b.ctx()?)?;
    Ok(())
}

/// The SELECT over one collection for a query spec; `with_ctid` adds the row position
/// column and a `ctid > $n` condition for resumable scans (parameter appended by the
/// cursor code at execution).
pub fn select_sql(collection: &Collection, q: &QuerySpec<'_>, with_ctid: bool) -> DocDbResult<PageQuery> {
    let mut b = SqlBuilder::with_vars(q.vars.clone());
    if let Some(hint) = q.hint {
        b.use_hint(collection, hint)?;
    }
    let sort = q.sort.filter(|s| !s.is_empty());
    // A sort on `{$meta: "textScore"}` needs the $text query's rank, known once the WHERE
    // clause is built.
    let text_sort = sort.is_some_and(|s| s.iter().flatten().any(|(_, v)| is_text_score(v)));
    let mut order_keys = match sort {
        Some(sort) if !text_sort => order_by(Some(collection), sort, "document")?,
        _ => Vec::new(),
    };
    let hinted_id = b.hinted_key.as_ref().is_some_and(|k| k.get("_id").ok().flatten().is_some());
    b.uses_primary_key = hinted_id || order_keys.iter().any(|(key, _)| key == PRIMARY_KEY);
    let where_clause = b.where_clause(collection, q.filter)?;
    if let (Some(sort), true) = (sort, text_sort) {
        for (key, value) in sort.iter().flatten() {
            if is_text_score(value) {
                order_keys.push((b.text_score.clone().ok_or_else(no_text_score)?, false));
            } else {
                let mut one = RawDocumentBuf::new();
                one.append(key, value);
                order_keys.extend(order_by(Some(collection), &one, "document")?);
            }
        }
    }
    // Only an index of sort keys has an order to read (not a hashed, text or wildcard one).
    let ordered_key = b.hinted_key.as_ref().filter(|k| {
        k.iter()
            .flatten()
            .all(|(path, direction)| !path.as_str().ends_with("$**") && !matches!(direction, RawBsonRef::String(_)))
    });
    if let (true, false, Some(key)) = (order_keys.is_empty(), b.uses_index_bounds, ordered_key) {
        // A hinted index the filter puts no bounds on is read whole, in its order, as
        // MongoDB's full index scan (PostgreSQL scans an index only for a condition or an
        // order).
        order_keys = order_by(Some(collection), key, "document")?;
    }
    // Rows read through an index come in key order: resuming by `ctid` would skip some.
    let (projection, meta) = match q.projection.filter(|p| !p.is_empty()) {
        Some(projection) => split_meta_projection(projection)?,
        None => (RawDocumentBuf::new(), MetaFields::default()),
    };
    let reports_index_key = q.return_key || !meta.index_key.is_empty();
    // The index key is bound once the statement is planned; a scan resumed by `ctid` has
    // no plan of its own to read it from.
    let with_ctid = with_ctid && !b.uses_index_bounds && !b.hints_an_index() && !reports_index_key;
    let mut select = if projection.is_empty() {
        "document".to_owned()
    } else {
        // Validate up front so errors surface even on empty collections.
        validate_projection(q)?;
        let p = b.param(OwnedParam::Bson(projection.into_bytes()));
        let f = b.param(OwnedParam::Bson(
            q.filter.map(|f| f.as_bytes().to_vec()).unwrap_or_else(|| rawdoc! {}.into_bytes()),
        ));
        b.call(sql_names::PROJECT_FIND, &format!("document, {p}::{BSON}, {f}::{BSON}"))
    };
    for field in meta.text_score {
        let rank = b.text_score.clone().ok_or_else(no_text_score)?;
        let name = b.param(OwnedParam::Text(field));
        select = format!("{}({select}, {name}::text, {rank})", sql_names::WITH_TEXT_SCORE);
    }
    let mut index_key_param = None;
    if reports_index_key {
        let (key, position) = b.index_key_of_document();
        index_key_param = Some(position);
        if q.return_key {
            // `returnKey`: the index key alone, an empty document when no index is read.
            select = format!("COALESCE({key}, '{{}}'::{BSON})");
        } else {
            for field in meta.index_key {
                let name = b.param(OwnedParam::Text(field));
                select = format!("{}({select}, {name}::text, {key})", sql_names::WITH_INDEX_KEY);
            }
        }
    }
    let mut sql = format!("SELECT {select}");
    if with_ctid {
        sql.push_str(", ctid");
    }
    sql.push_str(&format!(" FROM {} WHERE {where_clause}", collection.table()));
    if with_ctid {
        // The tid parameter is appended last by the cursor code.
        sql.push_str(&format!(" AND ctid > ${}", b.params.len() + 1));
        return Ok(PageQuery {
            sql,
            params: b.params,
            resumable_scan: true,
            planning: Planning::default(),
            index_key_param: None,
        });
    }
    if !order_keys.is_empty() {
        sql.push_str(" ORDER BY ");
        let keys = order_keys;
        let keys: Vec<String> =
            keys.into_iter().map(|(e, asc)| format!("{e} {}", if asc { "ASC" } else { "DESC" })).collect();
        sql.push_str(&keys.join(", "));
    }
    if q.skip > 0 {
        sql.push_str(&format!(" OFFSET {}", q.skip));
    }
    if q.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", q.limit));
    }
    let planning = b.planning();
    Ok(PageQuery { sql, params: b.params, resumable_scan: false, planning, index_key_param })
}
