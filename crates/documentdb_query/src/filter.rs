//! Query filters: parse once, match many documents on borrowed bytes.
//!
//! Semantics are MongoDB 7.0's `MatchExpression` (classic matcher): paths traverse
//! embedded documents and arrays exactly as MongoDB's element iterator does, comparisons
//! use type bracketing and MongoDB's cross-type order (`documentdb_bson::compare_values`),
//! regexes are PCRE2 (UTF mode, JIT when available) compiled once at parse time and
//! `$in` equalities are pre-sorted for binary search. Matching never decodes the document
//! and allocates nothing in the common cases.
//!
//! Unsupported: geospatial operators, `$text` and `$where` (errors, code NotImplemented).

pub mod json_schema;
mod node;
mod parse;
mod path;
mod predicate;
pub(crate) mod util;

use bson::{RawBson, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_bson::compare_values;
use documentdb_errors::{docdb_error, DocDbResult};

use node::{Node, Pred};
use parse::Parser;
use path::Root;
use predicate::{compile_regex, CmpOp};

/// A parsed query filter.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The AND-ed top-level predicates (`$comment` removed).
    children: Vec<Node>,
}

/// Result of matching with positional tracking (for the positional `$` projection/update).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOutcome {
    NoMatch,
    /// Matched; `Some(i)` is the index of the first array element that satisfied the
    /// predicate on an array field, as MongoDB records it for `$`.
    Matched(Option<usize>),
}

/// Comparison kinds that SQL pushdown (and later indexes) can serve for one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushdownOp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Exists,
}

impl PushdownOp {
    /// The query operator this predicate stands for.
    pub fn query_operator(self) -> &'static str {
        match self {
            PushdownOp::Eq => "$eq",
            PushdownOp::Gt => "$gt",
            PushdownOp::Gte => "$gte",
            PushdownOp::Lt => "$lt",
            PushdownOp::Lte => "$lte",
            PushdownOp::In => "$in",
            PushdownOp::Exists => "$exists",
        }
    }
}

impl From<CmpOp> for PushdownOp {
    fn from(op: CmpOp) -> Self {
        match op {
            CmpOp::Eq => PushdownOp::Eq,
            CmpOp::Lt => PushdownOp::Lt,
            CmpOp::Lte => PushdownOp::Lte,
            CmpOp::Gt => PushdownOp::Gt,
            CmpOp::Gte => PushdownOp::Gte,
        }
    }
}

/// One AND-ed, index-servable predicate of a filter: `path <op> value` with MongoDB
/// semantics (array elements match, `{a: null}` matches missing, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct PushdownPredicate {
    pub path: String,
    pub op: PushdownOp,
    pub value: RawBson,
}

impl Filter {
    /// Parses a filter document. Unknown `$` operators, bad operands -> BadValue(2) etc.
    pub fn parse(query: &RawDocument) -> DocDbResult<Filter> {
        let children = Parser { variables: None }.parse_top(query)?;
        Ok(Filter { children })
    }

    /// Parses with `let` variables available to `$expr` (aggregate/find `let`).
    pub fn parse_with_variables(query: &RawDocument, variables: &bson::Document) -> DocDbResult<Filter> {
        let children = Parser { variables: Some(variables) }.parse_top(query)?;
        Ok(Filter { children })
    }

    fn eval(&self, root: Root<'_>, key: &mut Option<usize>) -> DocDbResult<bool> {
        for child in &self.children {
            if !child.eval(root, key)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Does `doc` match? Errors only from `$expr` evaluation (e.g. `$divide` by zero).
    pub fn matches(&self, doc: &RawDocument) -> DocDbResult<bool> {
        let mut key = None;
        self.eval(Root::Doc(doc), &mut key)
    }

    /// Like [`Filter::matches`], also reporting the positional array index.
    ///
    /// The index is MongoDB's `elemMatchKey`: for the predicate that matched through an
    /// array, the index of the element of the *outermost* array on its path (for
    /// `$elemMatch` on a leaf array, the matching element's index). With several such
    /// predicates AND-ed, the last one evaluated wins, as in MongoDB; negations (`$ne`,
    /// `$nin`, `$not`, `$nor`) never record one.
    pub fn matches_positional(&self, doc: &RawDocument) -> DocDbResult<MatchOutcome> {
        let mut key = None;
        Ok(if self.eval(Root::Doc(doc), &mut key)? { MatchOutcome::Matched(key) } else { MatchOutcome::NoMatch })
    }

    /// Matches the filter against the document `{field: value}` without building it
    /// (arrayFilters: `field` is the identifier; `$pull` conditions use `""`).
    pub fn matches_wrapped(&self, field: &str, value: RawBsonRef<'_>) -> DocDbResult<bool> {
        let mut key = None;
        self.eval(Root::Field(field, value), &mut key)
    }

    /// Matches everything (`{}`)?
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Whether matching can fail (the filter evaluates `$expr`).
    pub fn has_expr(&self) -> bool {
        self.children.iter().any(Node::has_expr)
    }

    /// `(path, value)` pairs an upsert seeds the new document with: top-level equality
    /// (`{a: 1}`, `{a: {$eq: 1}}`, a one-value `$in`), also inside top-level `$and`;
    /// `_id` included. In filter order; conflicting paths are left to the caller.
    pub fn equality_fields(&self) -> Vec<(String, RawBson)> {
        let mut out = Vec::new();
        for leaf in leaves(conjuncts(&self.children)) {
            match &leaf.pred {
                Pred::Cmp(c) if c.op == CmpOp::Eq => out.push((leaf.path.dotted.to_string(), c.rhs.clone())),
                Pred::In(list) if list.regexes.is_empty() && list.values.len() == 1 => {
                    if let Some(v) = list.values.first() {
                        out.push((leaf.path.dotted.to_string(), v.clone()));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The filter for one pushed-down predicate given as its SQL operand `{ path: value }`:
    /// `{ path: { <op>: value } }`, so the SQL operator and the full match agree exactly.
    pub fn for_pushdown(op: PushdownOp, operand: &RawDocument) -> DocDbResult<Filter> {
        let mut fields = operand.iter();
        let (path, value) = match (fields.next(), fields.next()) {
            (Some(Ok((path, value))), None) => (path, value),
            _ => return Err(docdb_error!(BadValue, "a query operator operand must be a document with one field")),
        };
        let condition = wrap_value(op.query_operator(), value)?;
        let query = wrap_value(path.as_str(), RawBsonRef::Document(&condition))?;
        Filter::parse(&query)
    }

    /// Whether [`Filter::pushdown_predicates`] express the whole filter, so matching the
    /// pushed predicates is matching the filter.
    pub fn pushdown_is_complete(&self) -> bool {
        fn covered(nodes: &[Node]) -> bool {
            nodes.iter().all(|node| match node {
                Node::And(children) => covered(children),
                Node::Leaf(leaf) => match &leaf.pred {
                    Pred::Cmp(_) | Pred::Exists => true,
                    Pred::In(list) => list.regexes.is_empty(),
                    _ => false,
                },
                _ => false,
            })
        }
        covered(&self.children)
    }

    /// The AND-ed top-level predicates that can be pushed into SQL (a subset: the full
    /// filter must still be evaluated as recheck). `In` carries an array of the (sorted,
    /// distinct) values; `Exists` carries `true`.
    pub fn pushdown_predicates(&self) -> Vec<PushdownPredicate> {
        let mut out = Vec::new();
        for leaf in leaves(conjuncts(&self.children)) {
            let path = leaf.path.dotted.to_string();
            match &leaf.pred {
                Pred::Cmp(c) => out.push(PushdownPredicate { path, op: c.op.into(), value: c.rhs.clone() }),
                Pred::In(list) if list.regexes.is_empty() => {
                    let mut arr = bson::RawArrayBuf::new();
                    for v in &list.values {
                        arr.push(v.clone());
                    }
                    out.push(PushdownPredicate { path, op: PushdownOp::In, value: RawBson::Array(arr) });
                }
                Pred::Exists => {
                    out.push(PushdownPredicate { path, op: PushdownOp::Exists, value: RawBson::Boolean(true) })
                }
                _ => {}
            }
        }
        out
    }
}

/// A condition on a path's value that `pushdown_predicates` cannot express but that still
/// narrows a single-valued index key (bounds only: the filter rechecks). MongoDB scans the
/// same intervals for these operators.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyRestriction {
    /// `$ne` / `$nin` (or `$not` of `$eq` / `$in`): the value is none of these (sorted in
    /// MongoDB's order, without regexes).
    NoneOf(Vec<RawBson>),
    /// `$type` naming types of one comparison bracket: a value of that bracket.
    OfBracket(RawBson),
    /// `$exists: false`: the field is missing, so its sort key is null.
    Missing,
}

impl Filter {
    /// The AND-ed top-level `$ne`, `$nin`, `$type` and `$exists: false` conditions, by path.
    pub fn key_restrictions(&self) -> Vec<(String, KeyRestriction)> {
        let mut out = Vec::new();
        for node in conjuncts(&self.children) {
            match node {
                Node::Leaf(leaf) => {
                    if let Pred::Type(types) = &leaf.pred {
                        if let Some(sample) = types.bracket_sample() {
                            out.push((leaf.path.dotted.to_string(), KeyRestriction::OfBracket(sample)));
                        }
                    }
                }
                Node::Not(inner) => {
                    let Node::Leaf(leaf) = inner.as_ref() else { continue };
                    let restriction = match &leaf.pred {
                        Pred::Cmp(c) if c.op == CmpOp::Eq => KeyRestriction::NoneOf(vec![c.rhs.clone()]),
                        Pred::In(list) if list.regexes.is_empty() => KeyRestriction::NoneOf(list.values.clone()),
                        Pred::Exists => KeyRestriction::Missing,
                        _ => continue,
                    };
                    out.push((leaf.path.dotted.to_string(), restriction));
                }
                _ => {}
            }
        }
        out
    }

    /// Predicates every matching document also satisfies that `pushdown_predicates` leaves
    /// out, for index bounds only (never exact): an `$elemMatch` on values implies each of its
    /// comparisons on the array's path (`{a: {$elemMatch: {$gt: 5}}}` implies `{a: {$gt:
    /// 5}}`), one on documents implies its comparisons on the paths below
    /// (`{a: {$elemMatch: {b: 5}}}` implies `{"a.b": 5}`).
    pub fn implied_index_predicates(&self) -> Vec<PushdownPredicate> {
        fn from_conditions(path: &str, nodes: &[Node], out: &mut Vec<PushdownPredicate>) {
            for leaf in leaves(conjuncts(nodes)) {
                if let Pred::Cmp(c) = &leaf.pred {
                    let full = if leaf.path.dotted.is_empty() {
                        path.to_owned()
                    } else {
                        format!("{path}.{}", leaf.path.dotted)
                    };
                    out.push(PushdownPredicate { path: full, op: c.op.into(), value: c.rhs.clone() });
                }
            }
        }
        let mut out = Vec::new();
        for leaf in leaves(conjuncts(&self.children)) {
            match &leaf.pred {
                Pred::ElemMatchValue(children) => from_conditions(&leaf.path.dotted, children, &mut out),
                Pred::ElemMatchObject(inner) => {
                    from_conditions(&leaf.path.dotted, std::slice::from_ref(inner.as_ref()), &mut out)
                }
                _ => {}
            }
        }
        out
    }

    /// The literal prefixes of the AND-ed top-level regexes anchored at the start of the
    /// string (`{name: /^user00/}`): (path, prefix). Such a regex only matches strings that
    /// start with the prefix, a range of an index on the path (MongoDB's tight bounds for
    /// prefix regexes). Case-insensitive, multi-line and extended regexes have none.
    pub fn regex_prefixes(&self) -> Vec<(String, String)> {
        leaves(conjuncts(&self.children))
            .filter_map(|leaf| match &leaf.pred {
                Pred::Regex(re) => literal_prefix(&re.pattern, &re.flags).map(|p| (leaf.path.dotted.to_string(), p)),
                _ => None,
            })
            .collect()
    }
}

/// The conditions AND-ed at the level of `nodes`, nested `$and`s flattened, in filter order:
/// what every matching document satisfies one by one, so what pushdown and index bounds read.
fn conjuncts(nodes: &[Node]) -> Vec<&Node> {
    fn flatten<'n>(nodes: &'n [Node], out: &mut Vec<&'n Node>) {
        for node in nodes {
            match node {
                Node::And(children) => flatten(children, out),
                other => out.push(other),
            }
        }
    }
    let mut out = Vec::new();
    flatten(nodes, &mut out);
    out
}

/// The single-path predicates among `conjuncts`.
fn leaves(conjuncts: Vec<&Node>) -> impl Iterator<Item = &node::Leaf> {
    conjuncts.into_iter().filter_map(|node| match node {
        Node::Leaf(leaf) => Some(leaf.as_ref()),
        _ => None,
    })
}

/// The literal text a regex anchored with `^` (or `\A`) requires at the start of a string.
fn literal_prefix(pattern: &str, flags: &str) -> Option<String> {
    if flags.chars().any(|f| matches!(f, 'i' | 'm' | 'x')) {
        return None;
    }
    let rest = pattern.strip_prefix('^').or_else(|| pattern.strip_prefix("\\A"))?;
    let mut prefix = String::new();
    for c in rest.chars() {
        if matches!(c, '.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '\\') {
            // A quantifier after a literal makes that literal optional.
            if matches!(c, '*' | '?' | '{') {
                prefix.pop();
            }
            break;
        }
        prefix.push(c);
    }
    (!prefix.is_empty()).then_some(prefix)
}

/// A condition on single values, with `$pull` semantics (MongoDB's `PullNode`):
///
/// * a document whose first field is a query operator (`{$gte: 6}`, `{$in: [...]}`) or a
///   regex: the conditions apply to the value as if it were the field of a document
///   (`{"": value}`), so array values are traversed as in a query;
/// * any other document (`{x: 1}`, `{$and: [...]}`, `{}`): a query on the value, which
///   must then be a document;
/// * anything else: equality with the value (MongoDB's order: `1` equals `NumberLong(1)`;
///   documents compare field-order-sensitively).
#[derive(Debug, Clone)]
pub struct ElementFilter {
    kind: ElementKind,
}

#[derive(Debug, Clone)]
enum ElementKind {
    Query(Vec<Node>),
    Conditions(Vec<Node>),
    Equal(RawBson),
}

/// Parses a `$pull`-style condition; see [`ElementFilter`].
pub fn parse_element_filter(cond: RawBsonRef<'_>) -> DocDbResult<ElementFilter> {
    let parser = Parser { variables: None };
    let kind = match cond {
        RawBsonRef::Document(doc) => {
            let first = doc.iter().next().and_then(Result::ok).map(|(k, _)| k.as_str());
            if first.is_some_and(parse::is_path_keyword) {
                ElementKind::Conditions(parser.parse_conditions("", doc)?)
            } else {
                ElementKind::Query(parser.parse_sub_document(doc)?)
            }
        }
        RawBsonRef::RegularExpression(r) => {
            let re = compile_regex(r.pattern.as_str(), r.options.as_str())?;
            ElementKind::Conditions(vec![Node::Leaf(Box::new(node::Leaf {
                path: path::Path::new(""),
                pred: Pred::Regex(re),
            }))])
        }
        RawBsonRef::Undefined => return Err(docdb_error!(BadValue, "cannot compare to undefined")),
        other => ElementKind::Equal(other.into()),
    };
    Ok(ElementFilter { kind })
}

impl ElementFilter {
    /// Does `value` (an array element) satisfy the condition?
    pub fn matches_value(&self, value: RawBsonRef<'_>) -> DocDbResult<bool> {
        let mut key = None;
        match &self.kind {
            ElementKind::Equal(expected) => {
                Ok(compare_values(value, expected.as_raw_bson_ref()) == std::cmp::Ordering::Equal)
            }
            ElementKind::Query(nodes) => {
                let RawBsonRef::Document(doc) = value else {
                    return Ok(false);
                };
                for n in nodes {
                    if !n.eval(Root::Doc(doc), &mut key)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            ElementKind::Conditions(nodes) => {
                for n in nodes {
                    if !n.eval(Root::Field("", value), &mut key)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }
}

/// Builds `{field: value}` (helper for callers that need the wrapper document itself).
pub fn wrap_value(field: &str, value: RawBsonRef<'_>) -> DocDbResult<RawDocumentBuf> {
    let mut doc = RawDocumentBuf::new();
    let key: &bson::raw::CStr = field.try_into().map_err(|_| docdb_error!(BadValue, "invalid field name: {field}"))?;
    doc.append(key, value);
    Ok(doc)
}
