//! Filter parsing, following MongoDB 7.0's `MatchExpressionParser`
//! (src/mongo/db/matcher/expression_parser.cpp): which documents are operator documents,
//! which operators exist at which level, and the error codes and messages for bad operands.

use bson::{RawArray, RawBsonRef, RawDocument};
use documentdb_bson::type_name::{type_from_name, type_from_number};
use documentdb_errors::{docdb_error, DocDbError, DocDbResult, ErrorCode};

use super::json_schema::JsonSchema;
use super::node::{BitKind, BitTest, InList, Leaf, Node, Pred};
use super::path::{array_elements, Path};
use super::predicate::{compile_regex, Cmp, CmpOp, RegexPred};
use super::util::{
    coerce_to_long, element_string, parse_integer_to_long, parse_integer_to_non_negative_int,
    parse_integer_to_non_negative_long, true_value, TypeSet,
};
use crate::expr::{ExprContext, Expression};

/// MongoDB's `kMaximumTreeDepth`-style bound on nested logical operators.
const MAX_TREE_DEPTH: usize = 100;

/// MongoDB's bound on the components of a query path
/// (`BSONDepth::getMaxDepthForUserStorage()`: 200 - 20): a longer path is error 5729100,
/// "FieldPath is too long" (`MatchExpressionParser::parse`).
pub(crate) const MAX_QUERY_PATH_COMPONENTS: usize = 180;

/// MongoDB's query path length check (see [`MAX_QUERY_PATH_COMPONENTS`]).
pub(crate) fn check_query_path(path: &str) -> DocDbResult<()> {
    if documentdb_bson::path::path_components(path) > MAX_QUERY_PATH_COMPONENTS {
        return Err(DocDbError::new(ErrorCode::new(5729100), "FieldPath is too long"));
    }
    Ok(())
}

/// Where the parser is (MongoDB's `DocumentParseLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    PredicateTop,
    UserDocumentTop,
    SubDocument,
}

/// Operators that take no path (MongoDB's pathless operator map, minus internal ones).
const PATHLESS: &[&str] = &[
    "and",
    "or",
    "nor",
    "comment",
    "expr",
    "jsonSchema",
    "text",
    "where",
    "alwaysTrue",
    "alwaysFalse",
    "sampleRate",
    "ref",
    "id",
    "db",
];

/// Operators valid after a path (MongoDB's `parsePathAcceptingKeyword`).
const PATH_KEYWORDS: &[&str] = &[
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$size",
    "$all",
    "$exists",
    "$mod",
    "$type",
    "$regex",
    "$options",
    "$elemMatch",
    "$near",
    "$nearSphere",
    "$geoNear",
    "$geoWithin",
    "$within",
    "$geoIntersects",
    "$bitsAllSet",
    "$bitsAllClear",
    "$bitsAnySet",
    "$bitsAnyClear",
];

fn is_pathless(op: &str) -> bool {
    PATHLESS.contains(&op)
}

pub(crate) fn is_path_keyword(name: &str) -> bool {
    PATH_KEYWORDS.contains(&name)
}

fn invalid_bson(e: impl std::fmt::Display) -> DocDbError {
    docdb_error!(InvalidBSON, "invalid BSON in query: {e}")
}

/// The fields of a raw document, failing on malformed bytes.
pub(crate) fn fields(doc: &RawDocument) -> impl Iterator<Item = DocDbResult<(&str, RawBsonRef<'_>)>> {
    doc.iter().map(|r| r.map(|(k, v)| (k.as_str(), v)).map_err(invalid_bson))
}

fn first_key(doc: &RawDocument) -> Option<&str> {
    doc.iter().next().and_then(Result::ok).map(|(k, _)| k.as_str())
}

/// MongoDB's `isDBRefDocument`.
fn is_dbref_document(doc: &RawDocument, allow_incomplete: bool) -> bool {
    let (mut has_ref, mut has_id, mut has_db) = (false, false, false);
    for (key, _) in doc.iter().map_while(Result::ok) {
        match key.as_str() {
            "$ref" => has_ref = true,
            "$id" => has_id = true,
            "$db" => has_db = true,
            _ => {}
        }
        if has_ref && has_id {
            break;
        }
    }
    if allow_incomplete {
        has_ref || has_id || has_db
    } else {
        has_ref && has_id
    }
}

/// MongoDB's `isExpressionDocument`: a non-empty document whose first field starts with
/// `$` and that is not a DBRef.
pub(crate) fn is_expression_document(value: RawBsonRef<'_>, allow_incomplete_dbref: bool) -> bool {
    let RawBsonRef::Document(doc) = value else {
        return false;
    };
    match first_key(doc) {
        Some(k) if k.starts_with('$') => !is_dbref_document(doc, allow_incomplete_dbref),
        _ => false,
    }
}

fn leaf(path: &str, pred: Pred) -> Node {
    Node::Leaf(Box::new(Leaf { path: Path::new(path), pred }))
}

/// `And` of `children`, collapsed when there is only one.
fn and_of(mut children: Vec<Node>) -> Node {
    if children.len() == 1 {
        if let Some(only) = children.pop() {
            return only;
        }
    }
    Node::And(children)
}

/// Parses a `$type`-style type list (MongoDB's `MatcherTypeSet::parse`).
pub(crate) fn parse_type_set(value: RawBsonRef<'_>) -> DocDbResult<TypeSet> {
    let mut set = TypeSet::default();
    match value {
        RawBsonRef::Array(arr) => {
            for (_, v) in array_elements(arr) {
                add_single_type(v, &mut set)?;
            }
        }
        v => add_single_type(v, &mut set)?,
    }
    Ok(set)
}

fn add_single_type(value: RawBsonRef<'_>, set: &mut TypeSet) -> DocDbResult<()> {
    match value {
        RawBsonRef::String(alias) => {
            if alias == "number" {
                set.add_all_numbers();
            } else if let Some(t) = type_from_name(alias) {
                set.add(t);
            } else {
                return Err(docdb_error!(BadValue, "Unknown type name alias: {alias}"));
            }
        }
        v if super::util::is_number(v) => {
            let code = parse_integer_to_long("", v).ok().and_then(|c| i32::try_from(c).ok()).and_then(type_from_number);
            match code {
                Some(t) => set.add(t),
                None => {
                    let shown = documentdb_bson::number::Number::from_raw(v).map_or(0.0, |n| n.as_f64());
                    return Err(docdb_error!(BadValue, "Invalid numerical type code: {shown}"));
                }
            }
        }
        _ => return Err(docdb_error!(TypeMismatch, "type must be represented as a number or a string")),
    }
    Ok(())
}

/// The filter parser; `variables` are the `let` variables visible to `$expr`.
pub(crate) struct Parser<'v> {
    pub(crate) variables: Option<&'v bson::Document>,
}

impl Parser<'_> {
    /// Parses a whole filter: the AND-ed top-level children.
    pub(crate) fn parse_top(&self, query: &RawDocument) -> DocDbResult<Vec<Node>> {
        self.parse_doc(query, Level::PredicateTop, 0)
    }

    /// Parses a filter in the `$elemMatch`/`$pull` sub-document context.
    pub(crate) fn parse_sub_document(&self, query: &RawDocument) -> DocDbResult<Vec<Node>> {
        self.parse_doc(query, Level::SubDocument, 0)
    }

    /// Parses `{<op>: ..., ...}` as the conditions on one path (`$pull`-style operator
    /// documents), returning the AND-ed children.
    pub(crate) fn parse_conditions(&self, name: &str, conditions: &RawDocument) -> DocDbResult<Vec<Node>> {
        let mut out = Vec::new();
        self.parse_sub(name, conditions, &mut out, Level::SubDocument, 0)?;
        Ok(out)
    }

    fn parse_doc(&self, obj: &RawDocument, level: Level, depth: usize) -> DocDbResult<Vec<Node>> {
        documentdb_bson::stack::guard()?;
        if depth > MAX_TREE_DEPTH {
            return Err(docdb_error!(
                BadValue,
                "exceeded maximum query tree depth of {MAX_TREE_DEPTH} at {}",
                super::util::document_string(obj)
            ));
        }
        let next_level = if level == Level::PredicateTop { Level::UserDocumentTop } else { level };
        let mut out = Vec::new();
        for field in fields(obj) {
            let (key, value) = field?;
            if let Some(op) = key.strip_prefix('$') {
                if let Some(node) = self.parse_pathless(op, key, value, level, depth)? {
                    out.push(node);
                }
                continue;
            }
            check_query_path(key)?;
            if is_expression_document(value, false) {
                if let RawBsonRef::Document(sub) = value {
                    self.parse_sub(key, sub, &mut out, next_level, depth)?;
                }
                continue;
            }
            if let RawBsonRef::RegularExpression(r) = value {
                let re = compile_regex(r.pattern.as_str(), r.options.as_str())?;
                out.push(leaf(key, Pred::Regex(re)));
                continue;
            }
            out.push(leaf(key, Pred::Cmp(Cmp::new(CmpOp::Eq, value)?)));
        }
        Ok(out)
    }

    fn parse_pathless(
        &self,
        op: &str,
        key: &str,
        value: RawBsonRef<'_>,
        level: Level,
        depth: usize,
    ) -> DocDbResult<Option<Node>> {
        let node = match op {
            "and" | "or" | "nor" => {
                let RawBsonRef::Array(arr) = value else {
                    return Err(docdb_error!(BadValue, "{key} must be an array"));
                };
                let mut children = Vec::new();
                for (_, entry) in array_elements(arr) {
                    let RawBsonRef::Document(sub) = entry else {
                        return Err(docdb_error!(BadValue, "$or/$and/$nor entries need to be full objects"));
                    };
                    children.push(and_of(self.parse_doc(sub, level, depth + 1)?));
                }
                if children.is_empty() {
                    return Err(docdb_error!(BadValue, "$and/$or/$nor must be a nonempty array"));
                }
                match op {
                    "and" => Node::And(children),
                    "or" => Node::Or(children),
                    _ => Node::Nor(children),
                }
            }
            "comment" => return Ok(None),
            "expr" => {
                if level == Level::SubDocument {
                    return Err(docdb_error!(BadValue, "$expr can only be applied to the top-level document"));
                }
                let ctx = ExprContext { variables: self.variables.cloned().unwrap_or_default() };
                Node::Expr(Box::new(Expression::parse(value, &ctx)?))
            }
            "jsonSchema" => {
                let RawBsonRef::Document(schema) = value else {
                    return Err(docdb_error!(TypeMismatch, "$jsonSchema must be an object"));
                };
                Node::Schema(Box::new(JsonSchema::parse(schema)?))
            }
            "alwaysTrue" | "alwaysFalse" => {
                let n = parse_integer_to_long(key, value).map_err(|m| docdb_error!(FailedToParse, "{m}"))?;
                if n != 1 {
                    return Err(docdb_error!(FailedToParse, "{key} must be an integer value of 1"));
                }
                if op == "alwaysTrue" {
                    Node::True
                } else {
                    Node::False
                }
            }
            "where" => return Err(docdb_error!(NotImplemented, "$where is not supported")),
            "text" => {
                if level == Level::SubDocument {
                    return Err(docdb_error!(BadValue, "$text can only be applied to the top-level document"));
                }
                if depth > 0 {
                    return Err(docdb_error!(BadValue, "$text is only supported at the top level of a query"));
                }
                // The text index answers $text (the SQL layer turns it into a text search
                // condition); to the matcher it is MongoDB's TextNoOpMatchExpression.
                crate::text_search::parse_text_operand(value)?;
                Node::True
            }
            "sampleRate" => {
                if level == Level::SubDocument {
                    return Err(docdb_error!(BadValue, "$sampleRate can only be applied to the top-level document"));
                }
                let Some(n) = documentdb_bson::number::Number::from_raw(value) else {
                    return Err(docdb_error!(BadValue, "argument to $sampleRate must be a numeric type"));
                };
                let x = n.as_f64();
                if !(0.0..=1.0).contains(&x) {
                    return Err(docdb_error!(BadValue, "numeric argument to $sampleRate must be in [0, 1]"));
                }
                if x == 0.0 {
                    Node::False
                } else if x == 1.0 {
                    Node::True
                } else {
                    Node::SampleRate(x)
                }
            }
            // DBRef fields queried at the top level: plain equality on "$ref"/"$id"/"$db".
            "ref" | "id" | "db" => leaf(key, Pred::Cmp(Cmp::new(CmpOp::Eq, value)?)),
            _ => {
                let hint = if op == "not" {
                    ". If you are trying to negate an entire expression, use $nor."
                } else {
                    ". If you have a field name that starts with a '$' symbol, consider using $getField or $setField."
                };
                return Err(docdb_error!(BadValue, "unknown top level operator: {key}{hint}"));
            }
        };
        Ok(Some(node))
    }

    /// `{name: {<op>: ..., ...}}`: every operator applies to `name`.
    fn parse_sub(
        &self,
        name: &str,
        sub: &RawDocument,
        out: &mut Vec<Node>,
        level: Level,
        depth: usize,
    ) -> DocDbResult<()> {
        for field in fields(sub) {
            let (op, value) = field?;
            if let Some(node) = self.parse_sub_field(sub, name, op, value, level, depth)? {
                out.push(node);
            }
        }
        Ok(())
    }

    fn parse_sub_field(
        &self,
        context: &RawDocument,
        name: &str,
        op: &str,
        value: RawBsonRef<'_>,
        level: Level,
        depth: usize,
    ) -> DocDbResult<Option<Node>> {
        let cmp = |cmp_op: CmpOp| -> DocDbResult<Node> {
            if cmp_op != CmpOp::Eq && matches!(value, RawBsonRef::RegularExpression(_)) {
                return Err(docdb_error!(BadValue, "Can't have RegEx as arg to predicate over field '{name}'."));
            }
            Ok(leaf(name, Pred::Cmp(Cmp::new(cmp_op, value)?)))
        };
        let node = match op {
            "$not" => self.parse_not(name, value, level, depth)?,
            "$eq" => cmp(CmpOp::Eq)?,
            "$lt" => cmp(CmpOp::Lt)?,
            "$lte" => cmp(CmpOp::Lte)?,
            "$gt" => cmp(CmpOp::Gt)?,
            "$gte" => cmp(CmpOp::Gte)?,
            "$ne" => {
                if matches!(value, RawBsonRef::RegularExpression(_)) {
                    return Err(docdb_error!(BadValue, "Can't have regex as arg to $ne."));
                }
                Node::Not(Box::new(cmp(CmpOp::Eq)?))
            }
            "$in" | "$nin" => {
                let RawBsonRef::Array(arr) = value else {
                    return Err(docdb_error!(BadValue, "{op} needs an array"));
                };
                let node = leaf(name, Pred::In(Box::new(parse_in_list(arr)?)));
                if op == "$in" {
                    node
                } else {
                    Node::Not(Box::new(node))
                }
            }
            "$size" => {
                let n = parse_integer_to_non_negative_int(op, value)
                    .map_err(|m| docdb_error!(BadValue, "Failed to parse $size. {m}"))?;
                leaf(name, Pred::Size(i64::from(n)))
            }
            "$exists" => {
                let exists = leaf(name, Pred::Exists);
                if true_value(Some(value)) {
                    exists
                } else {
                    Node::Not(Box::new(exists))
                }
            }
            "$type" => {
                let set = parse_type_set(value)?;
                if set.is_empty() {
                    return Err(docdb_error!(FailedToParse, "{name} must match at least one type"));
                }
                leaf(name, Pred::Type(set))
            }
            "$mod" => leaf(name, parse_mod(value)?),
            "$options" => {
                if fields(context).flatten().any(|(k, _)| k == "$regex") {
                    return Ok(None);
                }
                return Err(docdb_error!(BadValue, "$options needs a $regex"));
            }
            "$regex" => leaf(name, Pred::Regex(parse_regex_document(context)?)),
            "$elemMatch" => leaf(name, self.parse_elem_match(value, depth)?),
            "$all" => self.parse_all(name, value, depth)?,
            "$bitsAllSet" => leaf(name, parse_bits(name, op, BitKind::AllSet, value)?),
            "$bitsAllClear" => leaf(name, parse_bits(name, op, BitKind::AllClear, value)?),
            "$bitsAnySet" => leaf(name, parse_bits(name, op, BitKind::AnySet, value)?),
            "$bitsAnyClear" => leaf(name, parse_bits(name, op, BitKind::AnyClear, value)?),
            "$near" | "$nearSphere" | "$geoNear" | "$geoWithin" | "$within" | "$geoIntersects" => {
                return Err(docdb_error!(NotImplemented, "{op} is not supported: geospatial queries are unavailable"))
            }
            "$where" => return Err(docdb_error!(BadValue, "$where cannot be applied to a field")),
            _ => return Err(docdb_error!(BadValue, "unknown operator: {op}")),
        };
        Ok(Some(node))
    }

    fn parse_not(&self, name: &str, value: RawBsonRef<'_>, level: Level, depth: usize) -> DocDbResult<Node> {
        match value {
            RawBsonRef::RegularExpression(r) => {
                let re = compile_regex(r.pattern.as_str(), r.options.as_str())?;
                Ok(Node::Not(Box::new(leaf(name, Pred::Regex(re)))))
            }
            RawBsonRef::Document(doc) => {
                if doc.is_empty() {
                    return Err(docdb_error!(BadValue, "$not cannot be empty"));
                }
                let mut children = Vec::new();
                self.parse_sub(name, doc, &mut children, level, depth + 1)?;
                Ok(Node::Not(Box::new(and_of(children))))
            }
            _ => Err(docdb_error!(BadValue, "$not needs a regex or a document")),
        }
    }

    fn parse_elem_match(&self, value: RawBsonRef<'_>, depth: usize) -> DocDbResult<Pred> {
        let RawBsonRef::Document(obj) = value else {
            return Err(docdb_error!(BadValue, "$elemMatch needs an Object"));
        };
        let value_form = is_expression_document(value, true)
            && first_key(obj).is_some_and(|k| !is_pathless(k.strip_prefix('$').unwrap_or(k)));
        if value_form {
            let mut children = Vec::new();
            self.parse_sub("", obj, &mut children, Level::SubDocument, depth + 1)?;
            return Ok(Pred::ElemMatchValue(children));
        }
        let children = self.parse_doc(obj, Level::SubDocument, depth + 1)?;
        Ok(Pred::ElemMatchObject(Box::new(and_of(children))))
    }

    fn parse_all(&self, name: &str, value: RawBsonRef<'_>, depth: usize) -> DocDbResult<Node> {
        let RawBsonRef::Array(arr) = value else {
            return Err(docdb_error!(BadValue, "$all needs an array"));
        };
        let elem_match_first = match array_elements(arr).next() {
            Some((_, RawBsonRef::Document(d))) => first_key(d) == Some("$elemMatch"),
            _ => false,
        };
        let mut children = Vec::new();
        if elem_match_first {
            for (_, entry) in array_elements(arr) {
                let inner = match entry {
                    RawBsonRef::Document(d) => match fields(d).next() {
                        Some(Ok(("$elemMatch", inner))) => inner,
                        _ => return Err(docdb_error!(BadValue, "$all/$elemMatch has to be consistent")),
                    },
                    _ => return Err(docdb_error!(BadValue, "$all/$elemMatch has to be consistent")),
                };
                children.push(leaf(name, self.parse_elem_match(inner, depth)?));
            }
            return Ok(Node::And(children));
        }
        for (_, entry) in array_elements(arr) {
            match entry {
                RawBsonRef::RegularExpression(r) => {
                    let re = compile_regex(r.pattern.as_str(), r.options.as_str())?;
                    children.push(leaf(name, Pred::Regex(re)));
                }
                RawBsonRef::Document(d) if first_key(d).is_some_and(is_path_keyword) => {
                    return Err(docdb_error!(BadValue, "no $ expressions in $all"));
                }
                other => children.push(leaf(name, Pred::Cmp(Cmp::new(CmpOp::Eq, other)?))),
            }
        }
        if children.is_empty() {
            return Ok(Node::False);
        }
        Ok(Node::And(children))
    }
}

/// `$in`/`$nin` operands (MongoDB's `parseInExpression` + `setEqualities`).
pub(crate) fn parse_in_list(arr: &RawArray) -> DocDbResult<InList> {
    let mut list = InList { has_null: false, has_arrays: false, values: Vec::new(), regexes: Vec::new() };
    for (_, value) in array_elements(arr) {
        if is_expression_document(value, false) {
            return Err(docdb_error!(BadValue, "cannot nest $ under $in"));
        }
        match value {
            RawBsonRef::RegularExpression(r) => {
                list.regexes.push(compile_regex(r.pattern.as_str(), r.options.as_str())?);
            }
            RawBsonRef::Undefined => {
                return Err(docdb_error!(BadValue, "InMatchExpression equality cannot be undefined"));
            }
            other => {
                if other == RawBsonRef::Null {
                    list.has_null = true;
                }
                list.values.push(other.into());
            }
        }
    }
    list.finish();
    Ok(list)
}

/// `{$regex: ..., $options: ...}` (MongoDB's `parseRegexDocument`).
fn parse_regex_document(context: &RawDocument) -> DocDbResult<RegexPred> {
    let mut pattern = "";
    let mut options = "";
    for field in fields(context) {
        let (key, value) = field?;
        match key {
            "$regex" => match value {
                RawBsonRef::String(s) => pattern = s,
                RawBsonRef::RegularExpression(r) => {
                    pattern = r.pattern.as_str();
                    if !r.options.as_str().is_empty() {
                        if !options.is_empty() {
                            return Err(DocDbError::new(
                                ErrorCode::new(51074),
                                "options set in both $regex and $options",
                            ));
                        }
                        options = r.options.as_str();
                    }
                }
                _ => return Err(docdb_error!(BadValue, "$regex has to be a string")),
            },
            "$options" => {
                let RawBsonRef::String(s) = value else {
                    return Err(docdb_error!(BadValue, "$options has to be a string"));
                };
                if !options.is_empty() {
                    return Err(DocDbError::new(ErrorCode::new(51075), "options set in both $regex and $options"));
                }
                options = s;
            }
            _ => {}
        }
    }
    compile_regex(pattern, options)
}

/// `$mod: [divisor, remainder]` (MongoDB 7.0's `parseMOD`).
fn parse_mod(value: RawBsonRef<'_>) -> DocDbResult<Pred> {
    let RawBsonRef::Array(arr) = value else {
        return Err(docdb_error!(BadValue, "malformed mod, needs to be an array"));
    };
    let mut it = array_elements(arr).map(|(_, v)| v);
    let divisor = it.next().ok_or_else(|| docdb_error!(BadValue, "malformed mod, not enough elements"))?;
    if !super::util::is_number(divisor) {
        return Err(docdb_error!(BadValue, "malformed mod, divisor not a number"));
    }
    let remainder = it.next().ok_or_else(|| docdb_error!(BadValue, "malformed mod, not enough elements"))?;
    if !super::util::is_number(remainder) {
        return Err(docdb_error!(BadValue, "malformed mod, remainder not a number"));
    }
    if it.next().is_some() {
        return Err(docdb_error!(BadValue, "malformed mod, too many elements"));
    }
    let divisor = coerce_to_long(divisor)
        .map_err(|m| docdb_error!(BadValue, "malformed mod, divisor value is invalid :: caused by :: {m}"))?;
    let remainder = coerce_to_long(remainder)
        .map_err(|m| docdb_error!(BadValue, "malformed mod, remainder value is invalid :: caused by :: {m}"))?;
    if divisor == 0 {
        return Err(docdb_error!(BadValue, "divisor cannot be 0"));
    }
    Ok(Pred::Mod { divisor, remainder })
}

/// `$bitsAllSet` and friends (MongoDB's `parseBitTest`).
fn parse_bits(name: &str, op: &str, kind: BitKind, value: RawBsonRef<'_>) -> DocDbResult<Pred> {
    let mut test = BitTest { kind, mask: 0, positions: Vec::new() };
    match value {
        RawBsonRef::Array(arr) => {
            for (idx, v) in array_elements(arr) {
                let pos = parse_integer_to_non_negative_int(&idx.to_string(), v)
                    .map_err(|m| docdb_error!(BadValue, "Failed to parse bit position. {m}"))?;
                let pos = pos.unsigned_abs();
                test.positions.push(pos);
                test.mask |= 1u64 << pos.min(63);
            }
        }
        RawBsonRef::Binary(b) => {
            for (byte_index, &byte) in b.bytes.iter().enumerate() {
                if byte == 0 {
                    continue;
                }
                if byte_index < 8 {
                    test.mask |= u64::from(byte) << (byte_index * 8);
                } else {
                    test.mask |= 1u64 << 63;
                }
                for bit in 0..8u32 {
                    if byte & (1u8 << bit) != 0 {
                        let pos = u32::try_from(byte_index).unwrap_or(u32::MAX / 16).saturating_mul(8) + bit;
                        test.positions.push(pos);
                    }
                }
            }
        }
        v if super::util::is_number(v) => {
            let mask = parse_integer_to_non_negative_long(op, v).map_err(|m| docdb_error!(FailedToParse, "{m}"))?;
            test.mask = mask.unsigned_abs();
            test.positions = (0..64u32).filter(|bit| test.mask & (1u64 << bit) != 0).collect();
        }
        other => {
            return Err(docdb_error!(
                BadValue,
                "{name} takes an Array, a number, or a BinData but received: {}",
                element_string(op, other)
            ))
        }
    }
    Ok(Pred::Bits(test))
}
