//! Aggregation expressions (`$add`, `$cond`, field paths `"$a.b"`, `$$ROOT`, ...).
//!
//! An expression is parsed once into a tree of [`Node`]s and evaluated per document. Field
//! paths are resolved directly on the borrowed root document (aggregation semantics: a
//! path through an array of documents maps over the elements, numeric components are
//! field names, not array indexes); results are owned `bson::Bson` values, `None` meaning
//! "missing".
//!
//! Operators live in a table (see `ops::OPERATORS`) mapping each name to a parse function;
//! a parse function validates the arguments and returns a [`Node::Call`] carrying its
//! evaluation function, so adding an operator is one table row plus two functions.
//!
//! Variables: `$$ROOT`, `$$CURRENT` (rebindable by `$let`), `$$REMOVE` (missing),
//! `$$NOW` (fixed when the expression is parsed, or `NOW` from [`ExprContext`]), user
//! variables from [`ExprContext::variables`] (constants, e.g. `let` of `aggregate`), and
//! the bindings of `$let`, `$map`, `$filter`, `$reduce` — resolved to slots at parse time.
use std::sync::Arc;

use bson::{Bson, RawBsonRef, RawDocument};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::value_bounds::{self, SizeBudget};
use crate::Value;

pub mod accumulators;
pub(crate) mod date;
pub(crate) mod operator_args;
pub(crate) mod ops;
pub(crate) mod ops_arith;
pub(crate) mod ops_array;
pub(crate) mod ops_date;
pub(crate) mod ops_logic;
pub(crate) mod ops_math;
pub(crate) mod ops_object;
pub(crate) mod ops_string;
pub(crate) mod ops_vars;
pub(crate) mod regex;
pub(crate) mod sort_by;
pub(crate) mod value;

/// Parse-time context: user variables defined by `let` (names usable as `$$name`).
#[derive(Debug, Clone, Default)]
pub struct ExprContext {
    pub variables: bson::Document,
}

/// A parsed aggregation expression.
#[derive(Debug, Clone)]
pub struct Expression {
    node: Node,
    num_vars: usize,
}

/// Slot of `$$CURRENT` before any `$let` rebinding.
pub(crate) const CURRENT_VAR: usize = 0;
/// Slot of `$$ROOT`.
pub(crate) const ROOT_VAR: usize = 1;

/// Evaluation function of an operator.
pub(crate) type EvalFn = fn(&Call, &mut Env<'_>) -> DocDbResult<Value>;

/// One node of a parsed expression.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A constant (`None` for `$$REMOVE`).
    Const(Value),
    /// A field path on a variable: `"$a.b"` is `CURRENT` + `[a, b]`.
    Path {
        var: usize,
        fields: Vec<String>,
    },
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
    Call(Box<Call>),
    /// An optional named argument that was not given.
    Absent,
}

/// An operator application.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub name: &'static str,
    pub eval: EvalFn,
    pub args: Vec<Node>,
    pub data: OpData,
}

/// Extra, operator-specific data computed at parse time.
#[derive(Debug, Clone)]
pub(crate) enum OpData {
    None,
    /// A bound variable (`$map`/`$filter` `as`).
    Var(usize),
    /// `$let` variables, in `args` order (the last arg is `in`).
    Vars(Vec<usize>),
    /// `$reduce`: `$$this`, `$$value`.
    Reduce {
        this: usize,
        value: usize,
    },
    /// `$switch`: whether a default is present (it is the last arg).
    Switch {
        has_default: bool,
    },
    /// Pre-compiled regular expression (constant `regex`/`options`).
    Regex(Option<Arc<regex::CompiledRegex>>),
    /// `$sortArray` specification.
    Sort(Arc<sort_by::SortBy>),
    /// `$zip`: number of inputs (defaults follow) and `useLongestLength`.
    Zip {
        inputs: usize,
        longest: bool,
    },
    /// `$rand` (volatile).
    Rand,
    /// A constant string (e.g. `$getField`'s field).
    Str(String),
}

impl OpData {
    pub(crate) fn is_volatile(&self) -> bool {
        matches!(self, OpData::Rand)
    }
}

impl Node {
    pub(crate) fn is_constant(&self) -> bool {
        match self {
            Node::Const(_) | Node::Absent => true,
            Node::Path { .. } => false,
            Node::Array(items) => items.iter().all(Node::is_constant),
            Node::Object(fields) => fields.iter().all(|(_, n)| n.is_constant()),
            Node::Call(call) => !call.data.is_volatile() && call.args.iter().all(Node::is_constant),
        }
    }

    pub(crate) fn is_absent(&self) -> bool {
        matches!(self, Node::Absent)
    }
}

/// Parse state: variable scopes and the user's constant variables.
pub(crate) struct ParseCtx<'c> {
    scopes: Vec<(String, usize)>,
    next_var: usize,
    user: &'c bson::Document,
    now: Bson,
}

impl<'c> ParseCtx<'c> {
    fn new(ctx: &'c ExprContext) -> ParseCtx<'c> {
        let now = match ctx.variables.get("NOW") {
            Some(v @ Bson::DateTime(_)) => v.clone(),
            _ => Bson::DateTime(bson::DateTime::now()),
        };
        ParseCtx { scopes: Vec::new(), next_var: 2, user: &ctx.variables, now }
    }

    /// Defines a variable visible to expressions parsed until [`ParseCtx::pop_scope`].
    pub(crate) fn define(&mut self, name: &str) -> usize {
        let id = self.next_var;
        self.next_var += 1;
        self.scopes.push((name.to_string(), id));
        id
    }

    pub(crate) fn scope_len(&self) -> usize {
        self.scopes.len()
    }

    pub(crate) fn pop_scope(&mut self, len: usize) {
        self.scopes.truncate(len);
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        self.scopes.iter().rev().find(|(n, _)| n == name).map(|(_, id)| *id)
    }

    fn current(&self) -> usize {
        self.lookup("CURRENT").unwrap_or(CURRENT_VAR)
    }
}

/// A variable's runtime value.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// The root document being evaluated (not yet copied).
    Root,
    Value(Value),
}

/// Evaluation environment: the root document and the variable slots.
pub(crate) struct Env<'a> {
    pub root: &'a RawDocument,
    pub vars: Vec<Slot>,
    /// Approximate size of the value in each slot, and their sum: every reference to a
    /// variable copies its value, so the values bound at one time share one memory limit.
    bound: Vec<usize>,
    bound_total: usize,
    /// The size of the value the last completed [`Env::eval`] returned, when that value
    /// was an array or object literal (measured as it was built), so that the literal or
    /// variable that takes it does not walk it again.
    built: Option<usize>,
}

impl<'a> Env<'a> {
    fn new(root: &'a RawDocument, num_vars: usize) -> Env<'a> {
        let slots = num_vars.max(2);
        let mut vars = vec![Slot::Value(None); slots];
        vars[CURRENT_VAR] = Slot::Root;
        vars[ROOT_VAR] = Slot::Root;
        Env { root, vars, bound: Vec::new(), bound_total: 0, built: None }
    }

    /// Binds `value` to a variable for the operator `op` (`$let`, `$map`, ...), refusing
    /// it (ExceededMemoryLimit) when the values bound together would pass
    /// [`MAX_VALUE_BYTES`](value_bounds::MAX_VALUE_BYTES).
    /// `built` is the value's size when the caller knows it ([`Env::take_built_size`]).
    pub(crate) fn bind(&mut self, op: &'static str, var: usize, value: Value, built: Option<usize>) -> DocDbResult<()> {
        let others = self.bound_total - self.bound.get(var).copied().unwrap_or(0);
        let room = value_bounds::MAX_VALUE_BYTES.saturating_sub(others);
        let size = match (&value, built) {
            (Some(_), Some(size)) if size <= room => size,
            (Some(_), Some(_)) => return Err(value_bounds::value_too_large(op)),
            (Some(v), None) => value_bounds::measure(v, value_bounds::Accounting::Decoded, room, usize::MAX)
                .map_err(|_| value_bounds::value_too_large(op))?,
            (None, _) => 0,
        };
        self.bind_measured(var, value, size);
        Ok(())
    }

    /// [`Env::bind`] of a value whose approximate size the caller has measured.
    pub(crate) fn bind_measured(&mut self, var: usize, value: Value, size: usize) {
        if self.bound.len() < self.vars.len() {
            // Allocated by the first binding: most expressions bind no variable.
            self.bound.resize(self.vars.len(), 0);
        }
        if let (Some(slot), Some(bound)) = (self.vars.get_mut(var), self.bound.get_mut(var)) {
            *slot = Slot::Value(value);
            self.bound_total = self.bound_total - *bound + size;
            *bound = size;
        }
    }

    /// Frees a variable whose scope has ended.
    pub(crate) fn unbind(&mut self, var: usize) {
        self.bind_measured(var, None, 0);
    }

    /// Evaluates a node. Nodes that evaluate others (arrays, objects, operators) check the
    /// stack depth first ([`documentdb_bson::stack::guard`]).
    pub(crate) fn eval(&mut self, node: &Node) -> DocDbResult<Value> {
        match node {
            Node::Const(v) => {
                self.built = None;
                Ok(v.clone())
            }
            Node::Absent => {
                self.built = None;
                Ok(None)
            }
            Node::Path { var, fields } => {
                self.built = None;
                Ok(self.eval_path(*var, fields))
            }
            Node::Array(items) => {
                documentdb_bson::stack::guard()?;
                let mut budget = SizeBudget::new("an array expression");
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.eval(item)?.unwrap_or(Bson::Null);
                    budget.add_value_built(&v, self.built.take())?;
                    out.push(v);
                }
                self.built = Some(budget.used());
                Ok(Some(Bson::Array(out)))
            }
            Node::Object(fields) => {
                documentdb_bson::stack::guard()?;
                let mut budget = SizeBudget::new("an object expression");
                let mut doc = bson::Document::new();
                for (name, node) in fields {
                    if let Some(v) = self.eval(node)? {
                        budget.add_field(name, &v, self.built.take())?;
                        doc.insert(name.clone(), v);
                    }
                }
                self.built = Some(budget.used());
                Ok(Some(Bson::Document(doc)))
            }
            Node::Call(call) => {
                documentdb_bson::stack::guard()?;
                let value = (call.eval)(call, self);
                self.built = None;
                value
            }
        }
    }

    /// The size of the value the last [`Env::eval`] returned when it built an array or
    /// object literal (see [`Env::built`](Env)), taken once.
    pub(crate) fn take_built_size(&mut self) -> Option<usize> {
        self.built.take()
    }

    fn eval_path(&self, var: usize, fields: &[String]) -> Value {
        match self.vars.get(var) {
            Some(Slot::Root) => {
                if fields.is_empty() {
                    root_document(self.root)
                } else {
                    raw_path(self.root, fields)
                }
            }
            Some(Slot::Value(v)) => {
                if fields.is_empty() {
                    return v.clone();
                }
                match v {
                    Some(Bson::Document(d)) => doc_path(d, fields),
                    Some(Bson::Array(a)) => Some(array_path(a, fields)),
                    _ => None,
                }
            }
            None => None,
        }
    }
}

fn root_document(root: &RawDocument) -> Value {
    bson::Document::try_from(root).ok().map(Bson::Document)
}

/// Aggregation field path on a raw document.
pub(crate) fn raw_path(doc: &RawDocument, fields: &[String]) -> Value {
    let Some((first, rest)) = fields.split_first() else {
        return root_document(doc);
    };
    let v = documentdb_bson::raw_reader::get(doc, first)?;
    if rest.is_empty() {
        return value::raw_to_bson(v);
    }
    match v {
        RawBsonRef::Document(d) => raw_path(d, rest),
        RawBsonRef::Array(a) => {
            let mut out = Vec::new();
            for elem in a.into_iter().flatten() {
                if let RawBsonRef::Document(d) = elem {
                    if let Some(found) = raw_path(d, rest) {
                        out.push(found);
                    }
                }
            }
            Some(Bson::Array(out))
        }
        _ => None,
    }
}

/// The value at an aggregation field path (`fields`, from [`Expression::as_field_path`]
/// split on `.`), borrowed from the document: `Some(None)` when missing, `None` when the
/// path meets an array before its end (mapped over by [`Expression::evaluate`]).
pub fn raw_field_path<'a, S: AsRef<str>>(doc: &'a RawDocument, fields: &[S]) -> Option<Option<RawBsonRef<'a>>> {
    let (first, rest) = fields.split_first()?;
    // The fast reader: the bson crate's `get` checks every key's UTF-8 on the way (measured:
    // a tenth of a `$group` over a joined document).
    let Some(v) = documentdb_bson::raw_reader::get(doc, first.as_ref()) else {
        return Some(None);
    };
    if rest.is_empty() {
        return Some(Some(v));
    }
    match v {
        RawBsonRef::Document(d) => raw_field_path(d, rest),
        RawBsonRef::Array(_) => None,
        _ => Some(None),
    }
}

/// Aggregation field path on an owned document.
pub(crate) fn doc_path(doc: &bson::Document, fields: &[String]) -> Value {
    let (first, rest) = fields.split_first()?;
    let v = doc.get(first)?;
    if rest.is_empty() {
        return Some(v.clone());
    }
    match v {
        Bson::Document(d) => doc_path(d, rest),
        Bson::Array(a) => Some(array_path(a, rest)),
        _ => None,
    }
}

fn array_path(a: &[Bson], fields: &[String]) -> Bson {
    let mut out = Vec::new();
    for elem in a {
        if let Bson::Document(d) = elem {
            if let Some(found) = doc_path(d, fields) {
                out.push(found);
            }
        }
    }
    Bson::Array(out)
}

/// A MongoDB "Location" error (expression modules reach it through `operator_args`).
pub(crate) use crate::spec_error::loc;

/// Validates one field name of an expression object (`FieldPath::uassertValidFieldName`).
pub(crate) fn validate_field_name(name: &str) -> DocDbResult<()> {
    if name.is_empty() {
        return Err(loc(15998, "FieldPath field names may not be empty strings."));
    }
    if documentdb_bson::path::is_dollar_component(name) {
        return Err(loc(16410, "FieldPath field names may not start with '$'. Consider using $getField or $setField."));
    }
    if name.contains('\0') {
        return Err(loc(16411, "FieldPath field names may not contain '\\0'."));
    }
    if name.contains('.') {
        return Err(loc(16412, "FieldPath field names may not contain '.'. Consider using $getField or $setField."));
    }
    Ok(())
}

/// Splits and validates a dotted field path ("a.b.c"); more than
/// [`MAX_PATH_COMPONENTS`](documentdb_bson::path::MAX_PATH_COMPONENTS) components is
/// Overflow, "FieldPath is too long", as MongoDB's `FieldPath` reports it.
pub(crate) fn split_path(path: &str) -> DocDbResult<Vec<String>> {
    if path.is_empty() {
        return Err(loc(40352, "FieldPath cannot be constructed with empty string"));
    }
    documentdb_bson::path::check_path_components(path)?;
    let mut out = Vec::new();
    for part in path.split('.') {
        if part.is_empty() {
            return Err(loc(15998, "FieldPath field names may not be empty strings."));
        }
        if documentdb_bson::path::is_dollar_component(part) {
            return Err(loc(
                16410,
                "FieldPath field names may not start with '$'. Consider using $getField or $setField.",
            ));
        }
        if part.contains('\0') {
            return Err(loc(16411, "FieldPath field names may not contain '\\0'."));
        }
        out.push(part.to_string());
    }
    Ok(out)
}

/// Validates a variable name referenced as `$$name` (a letter first).
fn validate_var_name_for_read(name: &str) -> DocDbResult<()> {
    validate_var_name(name, char::is_ascii_alphabetic, [16869, 16870, 16871])
}

/// Validates a name bound by `$let`/`$map`/`$filter` `as` (lower-case start).
pub(crate) fn validate_var_name_for_write(name: &str) -> DocDbResult<()> {
    if name == "CURRENT" {
        return Ok(());
    }
    validate_var_name(name, char::is_ascii_lowercase, [16866, 16867, 16868])
}

/// A variable name: not empty, an ASCII first character that `valid_first` accepts (or any
/// non-ASCII one), then ASCII letters, digits, `_` or non-ASCII characters. `codes` are
/// the errors for an empty name, a bad first character and a bad later one.
fn validate_var_name(name: &str, valid_first: fn(&char) -> bool, codes: [i32; 3]) -> DocDbResult<()> {
    let [empty_code, first_code, later_code] = codes;
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(loc(empty_code, "empty variable names are not allowed"));
    };
    if first.is_ascii() && !valid_first(&first) {
        return Err(loc(first_code, format!("'{name}' starts with an invalid character for a user variable name")));
    }
    for c in chars {
        if !(c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()) {
            return Err(loc(later_code, format!("'{name}' contains an invalid character for a variable name: '{c}'")));
        }
    }
    Ok(())
}

/// Parses a string operand that starts with `$`: a field path or a variable reference.
fn parse_field_path(raw: &str, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    if raw.len() < 2 {
        return Err(loc(16872, "'$' by itself is not a valid FieldPath"));
    }
    if let Some(var_path) = raw.strip_prefix("$$") {
        // The variable name counts as the first component, as in MongoDB's FieldPath.
        documentdb_bson::path::check_path_components(var_path)?;
        let (name, tail) = match var_path.split_once('.') {
            Some((n, t)) => (n, Some(t)),
            None => (var_path, None),
        };
        validate_var_name_for_read(name)?;
        let fields = match tail {
            Some(t) => split_path(t)?,
            None => Vec::new(),
        };
        if let Some(id) = ctx.lookup(name) {
            return Ok(Node::Path { var: id, fields });
        }
        let constant = |v: &Bson| -> Node {
            if fields.is_empty() {
                return Node::Const(Some(v.clone()));
            }
            Node::Const(match v {
                Bson::Document(d) => doc_path(d, &fields),
                Bson::Array(a) => Some(array_path(a, &fields)),
                _ => None,
            })
        };
        return match name {
            "CURRENT" => Ok(Node::Path { var: ctx.current(), fields }),
            "ROOT" => Ok(Node::Path { var: ROOT_VAR, fields }),
            "REMOVE" => Ok(Node::Const(None)),
            "NOW" => Ok(constant(&ctx.now.clone())),
            "CLUSTER_TIME" => {
                let v = match ctx.user.get("CLUSTER_TIME") {
                    Some(v) => v.clone(),
                    None => {
                        let secs = match &ctx.now {
                            Bson::DateTime(d) => u32::try_from(d.timestamp_millis() / 1000).unwrap_or(0),
                            _ => 0,
                        };
                        Bson::Timestamp(bson::Timestamp { time: secs, increment: 1 })
                    }
                };
                Ok(constant(&v))
            }
            _ => match ctx.user.get(name) {
                Some(v) => {
                    let v = v.clone();
                    Ok(constant(&v))
                }
                None => Err(loc(17276, format!("Use of undefined variable: {name}"))),
            },
        };
    }
    let fields = split_path(&raw[1..])?;
    Ok(Node::Path { var: ctx.current(), fields })
}

/// Parses any operand (`Expression::parseOperand`).
pub(crate) fn parse_operand(value: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    match value {
        Bson::String(s) if s.starts_with('$') => parse_field_path(s, ctx),
        Bson::Document(d) => {
            documentdb_bson::stack::guard()?;
            parse_object(d, ctx)
        }
        Bson::Array(items) => {
            documentdb_bson::stack::guard()?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(parse_operand(item, ctx)?);
            }
            Ok(Node::Array(out))
        }
        other => Ok(Node::Const(Some(other.clone()))),
    }
}

/// Parses a document operand: an operator `{$op: args}` or an object of expressions.
pub(crate) fn parse_object(doc: &bson::Document, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let Some((first, _)) = doc.iter().next() else {
        return Ok(Node::Const(Some(Bson::Document(bson::Document::new()))));
    };
    if first.starts_with('$') {
        if doc.len() != 1 {
            return Err(loc(
                15983,
                format!(
                    "An object representing an expression must have exactly one field: {}",
                    value::display(&Some(Bson::Document(doc.clone())))
                ),
            ));
        }
        let (name, arg) = match doc.iter().next() {
            Some(pair) => pair,
            None => return Ok(Node::Const(None)),
        };
        return ops::parse_operator(name, arg, ctx);
    }
    let mut fields = Vec::with_capacity(doc.len());
    for (name, v) in doc {
        validate_field_name(name)?;
        fields.push((name.clone(), parse_operand(v, ctx)?));
    }
    Ok(Node::Object(fields))
}

impl Expression {
    /// Parses an expression value: a literal, a `"$path"` string, `"$$var"`, an operator
    /// document `{ $op: args }`, or a document/array of expressions.
    pub fn parse(value: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<Expression> {
        let owned = Bson::try_from(value)
            .map_err(|e| DocDbError::new(ErrorCode::InvalidBSON, format!("Invalid BSON in expression: {e}")))?;
        Expression::parse_bson(&owned, ctx)
    }

    /// Like [`Expression::parse`] for an owned value.
    pub fn parse_bson(value: &Bson, ctx: &ExprContext) -> DocDbResult<Expression> {
        let mut pctx = ParseCtx::new(ctx);
        let node = parse_operand(value, &mut pctx)?;
        Ok(Expression { node, num_vars: pctx.next_var })
    }

    /// Parses the *operand* of an operator whose argument is an object of expressions
    /// (`{a: "$x"}` is an object expression, `{$add: [...]}` an operator). Same as
    /// [`Expression::parse_bson`]; kept for callers that hold a document.
    pub fn parse_document(doc: &bson::Document, ctx: &ExprContext) -> DocDbResult<Expression> {
        Expression::parse_bson(&Bson::Document(doc.clone()), ctx)
    }

    /// Evaluates against `root` (`$$ROOT`/`$$CURRENT`). `None` = missing.
    pub fn evaluate(&self, root: &RawDocument) -> DocDbResult<Value> {
        if let Node::Const(v) = &self.node {
            return Ok(v.clone());
        }
        let mut env = Env::new(root, self.num_vars);
        env.eval(&self.node)
    }

    /// Evaluates with `$$ROOT` bound to `root` and `$$CURRENT` to `current`, as `$redact`
    /// evaluates its expression on each embedded document it descends into (MongoDB's
    /// `DocumentSourceRedact` rebinds CURRENT and leaves ROOT the whole document).
    pub fn evaluate_with_current(&self, root: &RawDocument, current: bson::Document) -> DocDbResult<Value> {
        if let Node::Const(v) = &self.node {
            return Ok(v.clone());
        }
        let mut env = Env::new(root, self.num_vars);
        if let Some(slot) = env.vars.get_mut(CURRENT_VAR) {
            *slot = Slot::Value(Some(Bson::Document(current)));
        }
        env.eval(&self.node)
    }

    /// Evaluates against an owned document (converted to raw BSON first).
    pub fn evaluate_document(&self, root: &bson::Document) -> DocDbResult<Value> {
        let raw = bson::RawDocumentBuf::try_from(root)
            .map_err(|e| DocDbError::new(ErrorCode::InternalError, format!("cannot serialize document: {e}")))?;
        self.evaluate(&raw)
    }

    /// A constant expression (no field paths / variables) is foldable.
    pub fn is_constant(&self) -> bool {
        self.node.is_constant()
    }

    /// The value of a constant literal expression (`None` when not a plain constant).
    pub fn constant_value(&self) -> Option<&Value> {
        match &self.node {
            Node::Const(v) => Some(v),
            _ => None,
        }
    }

    /// Is this a bare field path on `$$CURRENT` (`"$a.b"`)? Returns the dotted path.
    pub fn as_field_path(&self) -> Option<String> {
        match &self.node {
            Node::Path { var: CURRENT_VAR, fields } if !fields.is_empty() => Some(fields.join(".")),
            _ => None,
        }
    }
}
