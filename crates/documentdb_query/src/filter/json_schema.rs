//! `$jsonSchema` (MongoDB's draft-4 subset with `bsonType`), for queries and validators.
//!
//! Parsing follows MongoDB 7.0's `JSONSchemaParser` (keywords, error codes and messages).
//! Validation applies each keyword to the value it describes, as JSON Schema does:
//! restriction keywords only constrain values of their type (`maximum` ignores strings,
//! `properties` ignores non-documents), which is exactly what MongoDB's translated match
//! expressions do. Equality for `enum` and `uniqueItems` ignores field order, as MongoDB's
//! `UnorderedFieldsBSONElementComparator` does.

use std::cmp::Ordering;

use bson::spec::ElementType;
use bson::{RawBson, RawBsonRef, RawDocument};
use documentdb_bson::compare::canonical_type_rank;
use documentdb_bson::compare_values;
use documentdb_bson::number::{decimal_parts, DecimalKind};
use documentdb_bson::type_name::type_from_name;
use documentdb_errors::{docdb_error, DocDbResult};

use super::predicate::{compile_regex, Cmp, CmpOp as CompareOp, RegexPred};
use super::util::{json_type_alias, parse_integer_to_non_negative_long, value_string, TypeSet};

/// A parsed `$jsonSchema`.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    root: Schema,
}

#[derive(Debug, Clone)]
enum Items {
    Single(Box<Schema>),
    Tuple(Vec<Schema>),
}

#[derive(Debug, Clone)]
enum Additional {
    Allow,
    Deny,
    Schema(Box<Schema>),
}

#[derive(Debug, Clone)]
enum Dependency {
    Schema(Box<Schema>),
    Properties(Vec<String>),
}

/// A decimal `(-1)^negative * coefficient * 10^exponent`, or a non-finite marker.
#[derive(Debug, Clone, Copy)]
enum Dec {
    Finite { negative: bool, coefficient: u128, exponent: i32 },
    Infinite,
    NaN,
}

#[derive(Debug, Clone, Default)]
struct Schema {
    /// `("type" | "bsonType", set)`.
    types: Option<(&'static str, TypeSet)>,
    pattern: Option<RegexPred>,
    max_length: Option<i64>,
    min_length: Option<i64>,
    multiple_of: Option<(Dec, RawBson)>,
    maximum: Option<Cmp>,
    minimum: Option<Cmp>,
    min_items: Option<i64>,
    max_items: Option<i64>,
    unique_items: bool,
    items: Option<Items>,
    /// Only present when `items` is an array of schemas (otherwise MongoDB ignores it).
    additional_items: Option<Additional>,
    required: Vec<String>,
    properties: Vec<(String, Schema)>,
    /// `(patternProperties, additionalProperties)` when either keyword is present.
    allowed: Option<(Vec<(RegexPred, Schema)>, Additional)>,
    min_properties: Option<i64>,
    max_properties: Option<i64>,
    dependencies: Vec<(String, Dependency)>,
    all_of: Vec<Schema>,
    any_of: Option<Vec<Schema>>,
    one_of: Option<Vec<Schema>>,
    not: Option<Box<Schema>>,
    enumeration: Option<Vec<RawBson>>,
}

/// Bound on nested schemas (BSON nesting is bounded far below this in practice).
const MAX_SCHEMA_DEPTH: usize = 150;

const KEYWORDS: &[&str] = &[
    "additionalItems",
    "additionalProperties",
    "allOf",
    "anyOf",
    "bsonType",
    "dependencies",
    "description",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "not",
    "oneOf",
    "pattern",
    "patternProperties",
    "properties",
    "required",
    "title",
    "type",
    "uniqueItems",
];

const UNSUPPORTED: &[&str] =
    &["$ref", "$schema", "default", "definitions", "format", "id", "encrypt", "encryptMetadata"];

/// The keywords of one schema object, by name.
struct Keywords<'a> {
    values: Vec<(&'a str, RawBsonRef<'a>)>,
}

impl<'a> Keywords<'a> {
    fn get(&self, name: &str) -> Option<RawBsonRef<'a>> {
        self.values.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

fn type_of(v: RawBsonRef<'_>) -> &'static str {
    documentdb_bson::type_name(v.element_type())
}

fn parse_type_keyword(keyword: &'static str, value: RawBsonRef<'_>) -> DocDbResult<TypeSet> {
    let lookup = |alias: &str| -> DocDbResult<Option<ElementType>> {
        if alias == "integer" {
            return Err(docdb_error!(FailedToParse, "$jsonSchema type 'integer' is not currently supported."));
        }
        if alias == "number" {
            return Ok(None);
        }
        let t = if keyword == "type" { json_type_alias(alias) } else { type_from_name(alias) };
        t.map(Some).ok_or_else(|| docdb_error!(BadValue, "Unknown type name alias: {alias}"))
    };
    let mut set = TypeSet::default();
    let add = |alias: &str, set: &mut TypeSet| -> DocDbResult<()> {
        match lookup(alias)? {
            Some(t) => set.add(t),
            None => set.add_all_numbers(),
        }
        Ok(())
    };
    match value {
        RawBsonRef::String(alias) => add(alias, &mut set)?,
        RawBsonRef::Array(arr) => {
            let mut seen: Vec<&str> = Vec::new();
            for v in arr.into_iter().map_while(Result::ok) {
                let RawBsonRef::String(alias) = v else {
                    return Err(docdb_error!(
                        TypeMismatch,
                        "$jsonSchema keyword '{keyword}' array elements must be strings"
                    ));
                };
                if alias == "integer" {
                    return Err(docdb_error!(FailedToParse, "$jsonSchema type 'integer' is not currently supported."));
                }
                if seen.contains(&alias) {
                    return Err(docdb_error!(
                        FailedToParse,
                        "$jsonSchema keyword '{keyword}' has duplicate value: {alias}"
                    ));
                }
                seen.push(alias);
            }
            for alias in seen {
                add(alias, &mut set)?;
            }
        }
        _ => {
            return Err(docdb_error!(
                TypeMismatch,
                "$jsonSchema keyword '{keyword}' must be either a string or an array of strings"
            ))
        }
    }
    if set.is_empty() {
        return Err(docdb_error!(FailedToParse, "$jsonSchema keyword '{keyword}' must name at least one type"));
    }
    Ok(set)
}

fn length_keyword(keywords: &Keywords<'_>, name: &str) -> DocDbResult<Option<i64>> {
    keywords
        .get(name)
        .map(|v| parse_integer_to_non_negative_long(name, v).map_err(|m| docdb_error!(FailedToParse, "{m}")))
        .transpose()
}

fn bound(
    keywords: &Keywords<'_>,
    name: &str,
    exclusive_name: &str,
    inclusive: CompareOp,
    exclusive: CompareOp,
) -> DocDbResult<Option<Cmp>> {
    let Some(value) = keywords.get(name) else {
        if keywords.get(exclusive_name).is_some() {
            return Err(docdb_error!(
                FailedToParse,
                "$jsonSchema keyword '{name}' must be a present if {exclusive_name} is present"
            ));
        }
        return Ok(None);
    };
    let is_exclusive = match keywords.get(exclusive_name) {
        None => false,
        Some(RawBsonRef::Boolean(b)) => b,
        Some(_) => return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword '{exclusive_name}' must be a boolean")),
    };
    if !crate::filter::util::is_number(value) {
        return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword '{name}' must be a number"));
    }
    Ok(Some(Cmp::new(if is_exclusive { exclusive } else { inclusive }, value)?))
}

fn schema_list(name: &str, value: RawBsonRef<'_>, depth: usize) -> DocDbResult<Vec<Schema>> {
    let RawBsonRef::Array(arr) = value else {
        return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword '{name}' must be an array"));
    };
    let mut out = Vec::new();
    for v in arr.into_iter().map_while(Result::ok) {
        let RawBsonRef::Document(d) = v else {
            return Err(docdb_error!(
                TypeMismatch,
                "$jsonSchema keyword '{name}' must be an array of objects, but found an element of type {}",
                type_of(v)
            ));
        };
        out.push(parse_schema(d, depth + 1)?);
    }
    if out.is_empty() {
        return Err(docdb_error!(BadValue, "$jsonSchema keyword '{name}' must be a non-empty array"));
    }
    Ok(out)
}

fn parse_schema(doc: &RawDocument, depth: usize) -> DocDbResult<Schema> {
    documentdb_bson::stack::guard()?;
    if depth > MAX_SCHEMA_DEPTH {
        return Err(docdb_error!(BadValue, "$jsonSchema is nested more than {MAX_SCHEMA_DEPTH} levels deep"));
    }
    let keywords = collect_keywords(doc)?;
    let mut s = Schema::default();
    parse_types(&keywords, &mut s)?;
    parse_scalar_keywords(&keywords, &mut s)?;
    parse_array_keywords(&keywords, &mut s, depth)?;
    parse_required(&keywords, &mut s)?;
    parse_properties(&keywords, &mut s, depth)?;
    parse_allowed_properties(&keywords, &mut s, depth)?;
    parse_dependencies(&keywords, &mut s, depth)?;
    parse_logical_keywords(&keywords, &mut s, depth)?;
    Ok(s)
}

// The keyword groups are separate, non-inlined functions so that each level of nested
// schemas only holds one small frame on the stack.

#[inline(never)]
fn collect_keywords(doc: &RawDocument) -> DocDbResult<Keywords<'_>> {
    let mut keywords = Keywords { values: Vec::new() };
    for field in doc.iter() {
        let (key, value) = field.map_err(|e| docdb_error!(InvalidBSON, "invalid BSON in $jsonSchema: {e}"))?;
        let key = key.as_str();
        if !KEYWORDS.contains(&key) {
            if UNSUPPORTED.contains(&key) {
                return Err(docdb_error!(FailedToParse, "$jsonSchema keyword '{key}' is not currently supported"));
            }
            return Err(docdb_error!(FailedToParse, "Unknown $jsonSchema keyword: {key}"));
        }
        if keywords.get(key).is_some() {
            return Err(docdb_error!(FailedToParse, "Duplicate $jsonSchema keyword: {key}"));
        }
        keywords.values.push((key, value));
    }
    for meta in ["description", "title"] {
        if keywords.get(meta).is_some_and(|v| !matches!(v, RawBsonRef::String(_))) {
            return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword '{meta}' must be of type string"));
        }
    }
    Ok(keywords)
}

#[inline(never)]
fn parse_types(keywords: &Keywords<'_>, s: &mut Schema) -> DocDbResult<()> {
    match (keywords.get("type"), keywords.get("bsonType")) {
        (Some(_), Some(_)) => {
            return Err(docdb_error!(FailedToParse, "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'"))
        }
        (Some(t), None) => s.types = Some(("type", parse_type_keyword("type", t)?)),
        (None, Some(t)) => s.types = Some(("bsonType", parse_type_keyword("bsonType", t)?)),
        (None, None) => {}
    }
    Ok(())
}

#[inline(never)]
fn parse_scalar_keywords(keywords: &Keywords<'_>, s: &mut Schema) -> DocDbResult<()> {
    // Scalar keywords.
    if let Some(p) = keywords.get("pattern") {
        let RawBsonRef::String(p) = p else {
            return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword 'pattern' must be a string"));
        };
        s.pattern = Some(compile_regex(p, "")?);
    }
    s.max_length = length_keyword(keywords, "maxLength")?;
    s.min_length = length_keyword(keywords, "minLength")?;
    if let Some(m) = keywords.get("multipleOf") {
        if !crate::filter::util::is_number(m) {
            return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword 'multipleOf' must be a number"));
        }
        let dec = to_dec(m);
        let positive = match dec {
            Dec::Finite { negative, coefficient, .. } => !negative && coefficient != 0,
            Dec::Infinite => !number_is_negative(m),
            Dec::NaN => true,
        };
        if !positive {
            return Err(docdb_error!(FailedToParse, "$jsonSchema keyword 'multipleOf' must have a positive value"));
        }
        s.multiple_of = Some((dec, m.into()));
    }
    s.maximum = bound(keywords, "maximum", "exclusiveMaximum", CompareOp::Lte, CompareOp::Lt)?;
    s.minimum = bound(keywords, "minimum", "exclusiveMinimum", CompareOp::Gte, CompareOp::Gt)?;

    Ok(())
}

#[inline(never)]
fn parse_array_keywords(keywords: &Keywords<'_>, s: &mut Schema, depth: usize) -> DocDbResult<()> {
    // Array keywords.
    s.min_items = length_keyword(keywords, "minItems")?;
    s.max_items = length_keyword(keywords, "maxItems")?;
    if let Some(u) = keywords.get("uniqueItems") {
        let RawBsonRef::Boolean(u) = u else {
            return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword 'uniqueItems' must be a boolean"));
        };
        s.unique_items = u;
    }
    if let Some(items) = keywords.get("items") {
        s.items = Some(match items {
            RawBsonRef::Array(arr) => {
                let mut tuple = Vec::new();
                for v in arr.into_iter().map_while(Result::ok) {
                    let RawBsonRef::Document(d) = v else {
                        return Err(docdb_error!(
                            TypeMismatch,
                            "$jsonSchema keyword 'items' requires that each element of the array is an object, but found a {}",
                            type_of(v)
                        ));
                    };
                    tuple.push(parse_schema(d, depth + 1)?);
                }
                Items::Tuple(tuple)
            }
            RawBsonRef::Document(d) => Items::Single(Box::new(parse_schema(d, depth + 1)?)),
            other => {
                return Err(docdb_error!(
                    TypeMismatch,
                    "$jsonSchema keyword 'items' must be an array or an object, not {}",
                    type_of(other)
                ))
            }
        });
    }
    if let Some(additional) = keywords.get("additionalItems") {
        let parsed = match additional {
            RawBsonRef::Boolean(true) => Additional::Allow,
            RawBsonRef::Boolean(false) => Additional::Deny,
            RawBsonRef::Document(d) => Additional::Schema(Box::new(parse_schema(d, depth + 1)?)),
            other => {
                return Err(docdb_error!(
                    TypeMismatch,
                    "$jsonSchema keyword 'additionalItems' must be either an object or a boolean, but got a {}",
                    type_of(other)
                ))
            }
        };
        if matches!(s.items, Some(Items::Tuple(_))) {
            s.additional_items = Some(parsed);
        }
    }

    Ok(())
}

#[inline(never)]
fn parse_required(keywords: &Keywords<'_>, s: &mut Schema) -> DocDbResult<()> {
    // Object keywords.
    if let Some(required) = keywords.get("required") {
        let RawBsonRef::Array(arr) = required else {
            return Err(docdb_error!(
                TypeMismatch,
                "$jsonSchema keyword 'required' must be an array, but found an element of type {}",
                type_of(required)
            ));
        };
        for v in arr.into_iter().map_while(Result::ok) {
            let RawBsonRef::String(name) = v else {
                return Err(docdb_error!(
                    TypeMismatch,
                    "$jsonSchema keyword 'required' must be an array of strings, but found an element of type: {}",
                    type_of(v)
                ));
            };
            if s.required.iter().any(|r| r == name) {
                return Err(docdb_error!(
                    FailedToParse,
                    "$jsonSchema keyword 'required' array cannot contain duplicate values"
                ));
            }
            s.required.push(name.to_string());
        }
        if s.required.is_empty() {
            return Err(docdb_error!(FailedToParse, "$jsonSchema keyword 'required' cannot be an empty array"));
        }
        s.required.sort();
    }
    Ok(())
}

#[inline(never)]
fn parse_properties(keywords: &Keywords<'_>, s: &mut Schema, depth: usize) -> DocDbResult<()> {
    if let Some(props) = keywords.get("properties") {
        let RawBsonRef::Document(props) = props else {
            return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword 'properties' must be an object"));
        };
        for field in props.iter() {
            let (name, sub) = field.map_err(|e| docdb_error!(InvalidBSON, "invalid BSON in $jsonSchema: {e}"))?;
            let RawBsonRef::Document(sub) = sub else {
                return Err(docdb_error!(
                    TypeMismatch,
                    "Nested schema for $jsonSchema property '{}' must be an object",
                    name.as_str()
                ));
            };
            s.properties.push((name.as_str().to_string(), parse_schema(sub, depth + 1)?));
        }
    }
    Ok(())
}

#[inline(never)]
fn parse_allowed_properties(keywords: &Keywords<'_>, s: &mut Schema, depth: usize) -> DocDbResult<()> {
    let pattern_props = keywords.get("patternProperties");
    let additional_props = keywords.get("additionalProperties");
    if pattern_props.is_some() || additional_props.is_some() {
        let mut patterns = Vec::new();
        if let Some(pp) = pattern_props {
            let RawBsonRef::Document(pp) = pp else {
                return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword 'patternProperties' must be an object"));
            };
            for field in pp.iter() {
                let (regex, sub) = field.map_err(|e| docdb_error!(InvalidBSON, "invalid BSON in $jsonSchema: {e}"))?;
                let RawBsonRef::Document(sub) = sub else {
                    return Err(docdb_error!(
                        TypeMismatch,
                        "$jsonSchema keyword 'patternProperties' has property '{}' which is not an object",
                        regex.as_str()
                    ));
                };
                let sub = parse_schema(sub, depth + 1)?;
                patterns.push((compile_regex(regex.as_str(), "")?, sub));
            }
        }
        let additional = match additional_props {
            None | Some(RawBsonRef::Boolean(true)) => Additional::Allow,
            Some(RawBsonRef::Boolean(false)) => Additional::Deny,
            Some(RawBsonRef::Document(d)) => Additional::Schema(Box::new(parse_schema(d, depth + 1)?)),
            Some(_) => {
                return Err(docdb_error!(
                    TypeMismatch,
                    "$jsonSchema keyword 'additionalProperties' must be an object or a boolean"
                ))
            }
        };
        s.allowed = Some((patterns, additional));
    }
    s.min_properties = length_keyword(keywords, "minProperties")?;
    s.max_properties = length_keyword(keywords, "maxProperties")?;
    Ok(())
}

#[inline(never)]
fn parse_dependencies(keywords: &Keywords<'_>, s: &mut Schema, depth: usize) -> DocDbResult<()> {
    if let Some(deps) = keywords.get("dependencies") {
        let RawBsonRef::Document(deps) = deps else {
            return Err(docdb_error!(TypeMismatch, "$jsonSchema keyword 'dependencies' must be an object"));
        };
        for field in deps.iter() {
            let (name, dep) = field.map_err(|e| docdb_error!(InvalidBSON, "invalid BSON in $jsonSchema: {e}"))?;
            let name = name.as_str();
            let parsed = match dep {
                RawBsonRef::Document(d) => Dependency::Schema(Box::new(parse_schema(d, depth + 1)?)),
                RawBsonRef::Array(arr) => {
                    let mut names: Vec<String> = Vec::new();
                    for v in arr.into_iter().map_while(Result::ok) {
                        let RawBsonRef::String(p) = v else {
                            return Err(docdb_error!(
                                TypeMismatch,
                                "array '{name}' in $jsonSchema keyword 'dependencies' can only contain strings, but found element of type: {}",
                                type_of(v)
                            ));
                        };
                        if names.iter().any(|n| n == p) {
                            return Err(docdb_error!(
                                FailedToParse,
                                "array '{name}' in $jsonSchema keyword 'dependencies' contains duplicate element: {p}"
                            ));
                        }
                        names.push(p.to_string());
                    }
                    if names.is_empty() {
                        return Err(docdb_error!(
                            FailedToParse,
                            "property '{name}' in $jsonSchema keyword 'dependencies' cannot be an empty array"
                        ));
                    }
                    Dependency::Properties(names)
                }
                RawBsonRef::String(_) if name == "title" || name == "description" => continue,
                _ => {
                    return Err(docdb_error!(
                        TypeMismatch,
                        "property '{name}' in $jsonSchema keyword 'dependencies' must be either an object or an array"
                    ))
                }
            };
            s.dependencies.push((name.to_string(), parsed));
        }
    }

    Ok(())
}

#[inline(never)]
fn parse_logical_keywords(keywords: &Keywords<'_>, s: &mut Schema, depth: usize) -> DocDbResult<()> {
    // Logical keywords.
    if let Some(v) = keywords.get("allOf") {
        s.all_of = schema_list("allOf", v, depth)?;
    }
    if let Some(v) = keywords.get("anyOf") {
        s.any_of = Some(schema_list("anyOf", v, depth)?);
    }
    if let Some(v) = keywords.get("oneOf") {
        s.one_of = Some(schema_list("oneOf", v, depth)?);
    }
    if let Some(v) = keywords.get("not") {
        let RawBsonRef::Document(d) = v else {
            return Err(docdb_error!(
                TypeMismatch,
                "$jsonSchema keyword 'not' must be an object, but found an element of type {}",
                type_of(v)
            ));
        };
        s.not = Some(Box::new(parse_schema(d, depth + 1)?));
    }
    if let Some(v) = keywords.get("enum") {
        let RawBsonRef::Array(arr) = v else {
            return Err(docdb_error!(
                TypeMismatch,
                "$jsonSchema keyword 'enum' must be an array, but found an element of type {}",
                type_of(v)
            ));
        };
        let mut values: Vec<RawBson> = Vec::new();
        for e in arr.into_iter().map_while(Result::ok) {
            if values.iter().any(|x| unordered_equal(x.as_raw_bson_ref(), e)) {
                return Err(docdb_error!(
                    FailedToParse,
                    "$jsonSchema keyword 'enum' array cannot contain duplicate values."
                ));
            }
            values.push(e.into());
        }
        if values.is_empty() {
            return Err(docdb_error!(FailedToParse, "$jsonSchema keyword 'enum' cannot be an empty array"));
        }
        s.enumeration = Some(values);
    }
    Ok(())
}

fn number_is_negative(v: RawBsonRef<'_>) -> bool {
    match v {
        RawBsonRef::Double(d) => d < 0.0,
        RawBsonRef::Decimal128(d) => decimal_parts(&d).negative,
        RawBsonRef::Int32(i) => i < 0,
        RawBsonRef::Int64(i) => i < 0,
        _ => false,
    }
}

/// A number as MongoDB's `numberDecimal()` sees it (doubles rounded to 15 digits).
fn to_dec(v: RawBsonRef<'_>) -> Dec {
    match v {
        RawBsonRef::Int32(i) => Dec::Finite { negative: i < 0, coefficient: u128::from(i.unsigned_abs()), exponent: 0 },
        RawBsonRef::Int64(i) => Dec::Finite { negative: i < 0, coefficient: u128::from(i.unsigned_abs()), exponent: 0 },
        RawBsonRef::Double(d) => {
            if d.is_nan() {
                return Dec::NaN;
            }
            if d.is_infinite() {
                return Dec::Infinite;
            }
            // 15 significant digits, as Decimal128(double) does by default.
            let text = format!("{:.14e}", d.abs());
            let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
            let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
            let coefficient = digits.parse::<u128>().unwrap_or(0);
            let exponent = exp.parse::<i32>().unwrap_or(0) - 14;
            Dec::Finite { negative: d < 0.0, coefficient, exponent }
        }
        RawBsonRef::Decimal128(d) => {
            let p = decimal_parts(&d);
            match p.kind {
                DecimalKind::Finite => {
                    Dec::Finite { negative: p.negative, coefficient: p.coefficient, exponent: p.exponent }
                }
                DecimalKind::Infinity => Dec::Infinite,
                DecimalKind::NaN { .. } => Dec::NaN,
            }
        }
        _ => Dec::NaN,
    }
}

/// Is `value` an exact integer multiple of the positive `divisor`? (MongoDB's
/// `$_internalSchemaFmod` with remainder 0, computed exactly.)
fn is_multiple_of(value: Dec, divisor: Dec) -> bool {
    let normalize = |mut c: u128, mut e: i32| {
        while c != 0 && c.is_multiple_of(10) {
            c /= 10;
            e += 1;
        }
        (c, e)
    };
    match (value, divisor) {
        (Dec::Finite { coefficient: 0, .. }, Dec::Finite { .. } | Dec::Infinite) => true,
        (Dec::Finite { .. }, Dec::Infinite) => false,
        (Dec::Finite { coefficient: c1, exponent: e1, .. }, Dec::Finite { coefficient: c2, exponent: e2, .. }) => {
            if c2 == 0 {
                return false;
            }
            let (c1, e1) = normalize(c1, e1);
            let (c2, e2) = normalize(c2, e2);
            if e1 < e2 {
                // c1 has no factor 10 left, so c1 * 10^e1 cannot be a multiple of 10^e2.
                return false;
            }
            let mut r = c1 % c2;
            let mut k = e1 - e2;
            while k > 0 && r != 0 {
                r = (r * 10) % c2;
                k -= 1;
            }
            r == 0
        }
        _ => false,
    }
}

/// Equality ignoring the order of document fields (MongoDB's unordered-fields comparator).
fn unordered_equal(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> bool {
    match (a, b) {
        (RawBsonRef::Document(x), RawBsonRef::Document(y)) => {
            let xs: Vec<_> = x.iter().map_while(Result::ok).collect();
            let ys: Vec<_> = y.iter().map_while(Result::ok).collect();
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, v)| ys.iter().any(|(k2, v2)| k.as_str() == k2.as_str() && unordered_equal(*v, *v2)))
        }
        (RawBsonRef::Array(x), RawBsonRef::Array(y)) => {
            let mut xi = x.into_iter().map_while(Result::ok);
            let mut yi = y.into_iter().map_while(Result::ok);
            loop {
                match (xi.next(), yi.next()) {
                    (None, None) => return true,
                    (Some(p), Some(q)) if unordered_equal(p, q) => {}
                    _ => return false,
                }
            }
        }
        _ => {
            canonical_type_rank(a.element_type()) == canonical_type_rank(b.element_type())
                && compare_values(a, b) == Ordering::Equal
        }
    }
}

/// Collects the first failure reason when asked to.
struct Ctx {
    want_reason: bool,
    path: Vec<String>,
    reason: Option<String>,
}

impl Ctx {
    fn fail(&mut self, what: impl FnOnce() -> String) -> bool {
        if self.want_reason && self.reason.is_none() {
            let at =
                if self.path.is_empty() { "document".to_string() } else { format!("field '{}'", self.path.join(".")) };
            self.reason = Some(format!("{at} {}", what()));
        }
        false
    }

    fn nested(&mut self, segment: impl FnOnce() -> String, f: impl FnOnce(&mut Ctx) -> bool) -> bool {
        if !self.want_reason {
            return f(self);
        }
        self.path.push(segment());
        let ok = f(self);
        self.path.pop();
        ok
    }

    /// Runs `f` without recording reasons (for `anyOf`/`oneOf`/`not` probes).
    fn quiet(&mut self, f: impl FnOnce(&mut Ctx) -> bool) -> bool {
        let saved = self.want_reason;
        self.want_reason = false;
        let ok = f(self);
        self.want_reason = saved;
        ok
    }
}

fn code_points(s: &str) -> i64 {
    s.chars().count() as i64
}

impl Schema {
    fn check(&self, v: RawBsonRef<'_>, ctx: &mut Ctx) -> bool {
        if let Some((keyword, set)) = &self.types {
            if !set.contains(v.element_type()) {
                return ctx.fail(|| format!("does not match '{keyword}' (found {})", type_of(v)));
            }
        }
        match v {
            RawBsonRef::String(s) => {
                if let Some(re) = &self.pattern {
                    if !re.matches(Some(v)) {
                        return ctx.fail(|| format!("does not match 'pattern' /{}/", re.pattern));
                    }
                }
                if let Some(max) = self.max_length {
                    if code_points(s) > max {
                        return ctx.fail(|| format!("is longer than 'maxLength' {max}"));
                    }
                }
                if let Some(min) = self.min_length {
                    if code_points(s) < min {
                        return ctx.fail(|| format!("is shorter than 'minLength' {min}"));
                    }
                }
            }
            RawBsonRef::Int32(_) | RawBsonRef::Int64(_) | RawBsonRef::Double(_) | RawBsonRef::Decimal128(_) => {
                if let Some((divisor, shown)) = &self.multiple_of {
                    if !is_multiple_of(to_dec(v), *divisor) {
                        return ctx.fail(|| format!("is not a 'multipleOf' {}", value_string(shown.as_raw_bson_ref())));
                    }
                }
                if let Some(max) = &self.maximum {
                    if !max.matches(Some(v)) {
                        return ctx
                            .fail(|| format!("is greater than 'maximum' {}", value_string(max.rhs.as_raw_bson_ref())));
                    }
                }
                if let Some(min) = &self.minimum {
                    if !min.matches(Some(v)) {
                        return ctx
                            .fail(|| format!("is less than 'minimum' {}", value_string(min.rhs.as_raw_bson_ref())));
                    }
                }
            }
            RawBsonRef::Array(arr) if !self.check_array(arr, ctx) => return false,
            RawBsonRef::Document(doc) if !self.check_object(doc, ctx) => return false,
            _ => {}
        }
        self.check_logical(v, ctx)
    }

    fn check_array(&self, arr: &bson::RawArray, ctx: &mut Ctx) -> bool {
        let elements: Vec<RawBsonRef<'_>> = documentdb_bson::raw_reader::values(arr).collect();
        let len = elements.len() as i64;
        if let Some(min) = self.min_items {
            if len < min {
                return ctx.fail(|| format!("has fewer than 'minItems' {min} items"));
            }
        }
        if let Some(max) = self.max_items {
            if len > max {
                return ctx.fail(|| format!("has more than 'maxItems' {max} items"));
            }
        }
        if self.unique_items {
            for (i, a) in elements.iter().enumerate() {
                if elements.iter().skip(i + 1).any(|b| unordered_equal(*a, *b)) {
                    return ctx.fail(|| format!("violates 'uniqueItems' (duplicate {})", value_string(*a)));
                }
            }
        }
        match &self.items {
            Some(Items::Single(schema)) => {
                for (i, e) in elements.iter().enumerate() {
                    if !ctx.nested(|| i.to_string(), |ctx| schema.check(*e, ctx)) {
                        return false;
                    }
                }
            }
            Some(Items::Tuple(schemas)) => {
                for (i, (e, schema)) in elements.iter().zip(schemas.iter()).enumerate() {
                    if !ctx.nested(|| i.to_string(), |ctx| schema.check(*e, ctx)) {
                        return false;
                    }
                }
                match &self.additional_items {
                    Some(Additional::Deny) if elements.len() > schemas.len() => {
                        return ctx
                            .fail(|| format!("has more than the {} items 'additionalItems' allows", schemas.len()));
                    }
                    Some(Additional::Schema(schema)) => {
                        for (i, e) in elements.iter().enumerate().skip(schemas.len()) {
                            if !ctx.nested(|| i.to_string(), |ctx| schema.check(*e, ctx)) {
                                return false;
                            }
                        }
                    }
                    _ => {}
                }
            }
            None => {}
        }
        true
    }

    fn check_object(&self, doc: &RawDocument, ctx: &mut Ctx) -> bool {
        for name in &self.required {
            if crate::filter::util::doc_get(doc, name).is_none() {
                return ctx.fail(|| format!("is missing required property '{name}'"));
            }
        }
        for (name, schema) in &self.properties {
            if let Some(value) = crate::filter::util::doc_get(doc, name) {
                if !ctx.nested(|| name.clone(), |ctx| schema.check(value, ctx)) {
                    return false;
                }
            }
        }
        let needs_fields = self.allowed.is_some() || self.min_properties.is_some() || self.max_properties.is_some();
        if needs_fields {
            let mut count = 0i64;
            for (key, value) in doc.iter().map_while(Result::ok) {
                count += 1;
                let key = key.as_str();
                let Some((patterns, additional)) = &self.allowed else {
                    continue;
                };
                if self.properties.iter().any(|(p, _)| p == key) {
                    continue;
                }
                let mut matched_pattern = false;
                for (re, schema) in patterns {
                    if re.re.is_match(key.as_bytes()).unwrap_or(false) {
                        matched_pattern = true;
                        if !ctx.nested(|| key.to_string(), |ctx| schema.check(value, ctx)) {
                            return false;
                        }
                    }
                }
                if !matched_pattern {
                    match additional {
                        Additional::Allow => {}
                        Additional::Deny => {
                            return ctx.fail(|| format!("has property '{key}' not allowed by 'additionalProperties'"));
                        }
                        Additional::Schema(schema) => {
                            if !ctx.nested(|| key.to_string(), |ctx| schema.check(value, ctx)) {
                                return false;
                            }
                        }
                    }
                }
            }
            if let Some(min) = self.min_properties {
                if count < min {
                    return ctx.fail(|| format!("has fewer than 'minProperties' {min} properties"));
                }
            }
            if let Some(max) = self.max_properties {
                if count > max {
                    return ctx.fail(|| format!("has more than 'maxProperties' {max} properties"));
                }
            }
        }
        for (name, dependency) in &self.dependencies {
            if crate::filter::util::doc_get(doc, name).is_none() {
                continue;
            }
            match dependency {
                Dependency::Properties(names) => {
                    if let Some(missing) = names.iter().find(|n| crate::filter::util::doc_get(doc, n).is_none()) {
                        return ctx.fail(|| format!("has '{name}' but is missing its dependency '{missing}'"));
                    }
                }
                Dependency::Schema(schema) => {
                    if !schema.check(RawBsonRef::Document(doc), ctx) {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn check_logical(&self, v: RawBsonRef<'_>, ctx: &mut Ctx) -> bool {
        for schema in &self.all_of {
            if !schema.check(v, ctx) {
                return false;
            }
        }
        if let Some(any) = &self.any_of {
            if !ctx.quiet(|ctx| any.iter().any(|s| s.check(v, ctx))) {
                return ctx.fail(|| "does not match any schema of 'anyOf'".to_string());
            }
        }
        if let Some(one) = &self.one_of {
            let count = ctx.quiet(|ctx| {
                let mut n = 0;
                for s in one {
                    if s.check(v, ctx) {
                        n += 1;
                    }
                }
                n == 1
            });
            if !count {
                return ctx.fail(|| "does not match exactly one schema of 'oneOf'".to_string());
            }
        }
        if let Some(not) = &self.not {
            if ctx.quiet(|ctx| not.check(v, ctx)) {
                return ctx.fail(|| "matches the schema of 'not'".to_string());
            }
        }
        if let Some(values) = &self.enumeration {
            if !values.iter().any(|e| unordered_equal(e.as_raw_bson_ref(), v)) {
                return ctx.fail(|| "is not one of the 'enum' values".to_string());
            }
        }
        true
    }
}

impl JsonSchema {
    /// Parses a `$jsonSchema` object. Unsupported keywords (`$ref`, `$schema`, `default`,
    /// `definitions`, `format`, `id`) and unknown ones fail with FailedToParse; keyword
    /// values of the wrong type with TypeMismatch/FailedToParse/BadValue as MongoDB does.
    pub fn parse(schema: &RawDocument) -> DocDbResult<JsonSchema> {
        Ok(JsonSchema { root: parse_schema(schema, 0)? })
    }

    /// Does the document satisfy the schema?
    pub fn validate(&self, doc: &RawDocument) -> bool {
        let mut ctx = Ctx { want_reason: false, path: Vec::new(), reason: None };
        self.root.check(RawBsonRef::Document(doc), &mut ctx)
    }

    /// Like [`JsonSchema::validate`], with a short human-readable reason on failure
    /// (e.g. `field 'age' is less than 'minimum' 0`).
    pub fn validate_with_reason(&self, doc: &RawDocument) -> Result<(), String> {
        let mut ctx = Ctx { want_reason: true, path: Vec::new(), reason: None };
        if self.root.check(RawBsonRef::Document(doc), &mut ctx) {
            Ok(())
        } else {
            Err(ctx.reason.unwrap_or_else(|| "document failed $jsonSchema validation".to_string()))
        }
    }
}
