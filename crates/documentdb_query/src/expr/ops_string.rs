//! String operators, including the PCRE-based `$regexMatch`/`$regexFind`/`$regexFindAll`.
use std::sync::Arc;

use bson::Bson;
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::operator_args::{
    call, display, fixed, fixed_named, index_range, loc, named_args, object_arg, ranged, require, variadic,
};
use super::regex::{compile_regex, CompiledRegex};
use super::value::{coerce_to_string, is_nullish, num, type_name};
use super::{Call, Env, Node, OpData, ParseCtx};
use crate::arith;
use crate::value_bounds::{self, check_string_length, SizeBudget};
use crate::Value;

fn s(v: String) -> Value {
    Some(Bson::String(v))
}

pub(crate) fn parse_concat(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_concat)
}

fn eval_concat(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mut out = String::new();
    for a in &c.args {
        let val = env.eval(a)?;
        if is_nullish(&val) {
            return Ok(Some(Bson::Null));
        }
        match &val {
            Some(Bson::String(st)) => {
                check_string_length(out.len().saturating_add(st.len()))?;
                out.push_str(st)
            }
            other => return Err(loc(16702, format!("$concat only supports strings, not {}", type_name(other)))),
        }
    }
    Ok(s(out))
}

pub(crate) fn parse_substr_bytes(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed_named(name, "$substrBytes", arg, ctx, 3, eval_substr_bytes)
}

fn eval_substr_bytes(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let op = "$substrBytes";
    let sv = env.eval(&c.args[0])?;
    let lv = env.eval(&c.args[1])?;
    let nv = env.eval(&c.args[2])?;
    let st = coerce_to_string(&sv)?;
    let lower = num(&lv).ok_or_else(|| {
        loc(16034, format!("{op}:  starting index must be a numeric type (is BSON type {})", type_name(&lv)))
    })?;
    let length = num(&nv)
        .ok_or_else(|| loc(16035, format!("{op}:  length must be a numeric type (is BSON type {})", type_name(&nv))))?;
    let lower = arith::to_i64(lower);
    if lower < 0 {
        return Err(loc(50752, format!("{op}:  starting index must be non-negative (got: {lower})")));
    }
    let lower = usize::try_from(lower).unwrap_or(usize::MAX);
    let length = arith::to_i64(length);
    let length = if length < 0 { st.len() } else { usize::try_from(length).unwrap_or(usize::MAX) };
    let bytes = st.as_bytes();
    if lower < bytes.len() && !st.is_char_boundary(lower) {
        return Err(loc(28656, format!("{op}:  Invalid range, starting index is a UTF-8 continuation byte.")));
    }
    let end = lower.saturating_add(length);
    if end < bytes.len() && !st.is_char_boundary(end) {
        return Err(loc(28657, format!("{op}:  Invalid range, ending index is in the middle of a UTF-8 character.")));
    }
    if lower >= bytes.len() {
        return Ok(s(String::new()));
    }
    Ok(s(st[lower..end.min(bytes.len())].to_string()))
}

pub(crate) fn parse_substr_cp(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 3, eval_substr_cp)
}

fn eval_substr_cp(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let op = c.name;
    let sv = env.eval(&c.args[0])?;
    let lv = env.eval(&c.args[1])?;
    let nv = env.eval(&c.args[2])?;
    let st = coerce_to_string(&sv)?;
    let lower = num(&lv).ok_or_else(|| {
        loc(34450, format!("{op}: starting index must be a numeric type (is BSON type {})", type_name(&lv)))
    })?;
    let start = arith::as_i32_exact(lower).ok_or_else(|| {
        loc(34451, format!("{op}: starting index cannot be represented as a 32-bit integral value: {}", display(&lv)))
    })?;
    let length = num(&nv)
        .ok_or_else(|| loc(34452, format!("{op}: length must be a numeric type (is BSON type {})", type_name(&nv))))?;
    let length = arith::as_i32_exact(length).ok_or_else(|| {
        loc(34453, format!("{op}: length cannot be represented as a 32-bit integral value: {}", display(&nv)))
    })?;
    if length < 0 {
        return Err(loc(34454, format!("{op}: length must be a nonnegative integer.")));
    }
    if start < 0 {
        return Err(loc(34455, format!("{op}: the starting index must be nonnegative integer.")));
    }
    let out: String =
        st.chars().skip(usize::try_from(start).unwrap_or(0)).take(usize::try_from(length).unwrap_or(0)).collect();
    Ok(s(out))
}

pub(crate) fn parse_to_lower(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_to_lower)
}

fn eval_to_lower(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(s(coerce_to_string(&env.eval(&c.args[0])?)?.to_ascii_lowercase()))
}

pub(crate) fn parse_to_upper(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_to_upper)
}

fn eval_to_upper(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(s(coerce_to_string(&env.eval(&c.args[0])?)?.to_ascii_uppercase()))
}

pub(crate) fn parse_str_len_bytes(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_str_len_bytes)
}

fn eval_str_len_bytes(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    match env.eval(&c.args[0])? {
        Some(Bson::String(st)) => Ok(Some(Bson::Int32(i32::try_from(st.len()).unwrap_or(i32::MAX)))),
        other => Err(loc(34473, format!("$strLenBytes requires a string argument, found: {}", type_name(&other)))),
    }
}

pub(crate) fn parse_str_len_cp(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_str_len_cp)
}

fn eval_str_len_cp(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    match env.eval(&c.args[0])? {
        Some(Bson::String(st)) => Ok(Some(Bson::Int32(i32::try_from(st.chars().count()).unwrap_or(i32::MAX)))),
        other => Err(loc(34471, format!("$strLenCP requires a string argument, found: {}", type_name(&other)))),
    }
}

pub(crate) fn parse_binary_size(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_binary_size)
}

fn eval_binary_size(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let val = env.eval(&c.args[0])?;
    if is_nullish(&val) {
        return Ok(Some(Bson::Null));
    }
    match &val {
        Some(Bson::String(st)) => Ok(Some(Bson::Int32(i32::try_from(st.len()).unwrap_or(i32::MAX)))),
        Some(Bson::Binary(b)) => Ok(Some(Bson::Int32(i32::try_from(b.bytes.len()).unwrap_or(i32::MAX)))),
        other => {
            Err(loc(51276, format!("$binarySize requires a string or BinData argument, found: {}", type_name(other))))
        }
    }
}

pub(crate) fn parse_split(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_split)
}

fn eval_split(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let input = env.eval(&c.args[0])?;
    let sep = env.eval(&c.args[1])?;
    if is_nullish(&input) || is_nullish(&sep) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::String(input)) = input else {
        return Err(loc(
            40085,
            format!(
                "$split requires an expression that evaluates to a string as a first argument, found: {}",
                type_name(&input)
            ),
        ));
    };
    let Some(Bson::String(sep)) = sep else {
        return Err(loc(
            40086,
            format!(
                "$split requires an expression that evaluates to a string as a second argument, found: {}",
                type_name(&sep)
            ),
        ));
    };
    if sep.is_empty() {
        return Err(loc(40087, "$split requires a non-empty separator"));
    }
    // Each piece costs a value's overhead: a short separator can make many more of them
    // than the input has bytes.
    let mut budget = SizeBudget::new("$split");
    let mut out = Vec::new();
    for piece in input.split(sep.as_str()) {
        budget.add_string(piece.len())?;
        out.push(Bson::String(piece.to_string()));
    }
    Ok(Some(Bson::Array(out)))
}

pub(crate) fn parse_strcasecmp(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_strcasecmp)
}

fn eval_strcasecmp(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let a = coerce_to_string(&env.eval(&c.args[0])?)?.to_ascii_uppercase();
    let b = coerce_to_string(&env.eval(&c.args[1])?)?.to_ascii_uppercase();
    Ok(Some(Bson::Int32(match a.as_bytes().cmp(b.as_bytes()) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    })))
}

// ---- $indexOfBytes / $indexOfCP ----

/// The string searched (`None` when nullish: the result is null) and the string sought,
/// errors `first_code` / `second_code` when either is something else.
fn index_of_operands(
    c: &Call,
    env: &mut Env<'_>,
    first_code: i32,
    second_code: i32,
) -> DocDbResult<Option<(String, String)>> {
    let sv = env.eval(&c.args[0])?;
    if is_nullish(&sv) {
        return Ok(None);
    }
    let Some(Bson::String(input)) = sv else {
        return Err(loc(
            first_code,
            format!("{} requires a string as the first argument, found: {}", c.name, type_name(&sv)),
        ));
    };
    let tv = env.eval(&c.args[1])?;
    let Some(Bson::String(token)) = tv else {
        return Err(loc(
            second_code,
            format!("{} requires a string as the second argument, found: {}", c.name, type_name(&tv)),
        ));
    };
    Ok(Some((input, token)))
}

pub(crate) fn parse_index_of_bytes(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 2, 4, eval_index_of_bytes)
}

fn eval_index_of_bytes(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some((input, token)) = index_of_operands(c, env, 40091, 40092)? else {
        return Ok(Some(Bson::Null));
    };
    let (start, end) = index_range(c, env, input.len())?;
    if start > input.len() || end < start {
        return Ok(Some(Bson::Int32(-1)));
    }
    let hay = &input.as_bytes()[..end];
    let needle = token.as_bytes();
    let found = (start..=hay.len().saturating_sub(needle.len()))
        .find(|&i| i + needle.len() <= hay.len() && &hay[i..i + needle.len()] == needle);
    Ok(Some(Bson::Int32(found.map(|i| i32::try_from(i).unwrap_or(-1)).unwrap_or(-1))))
}

pub(crate) fn parse_index_of_cp(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 2, 4, eval_index_of_cp)
}

fn eval_index_of_cp(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some((input, token)) = index_of_operands(c, env, 40093, 40094)? else {
        return Ok(Some(Bson::Null));
    };
    let cps: Vec<usize> = input.char_indices().map(|(i, _)| i).collect();
    let (start, end) = index_range(c, env, cps.len())?;
    if end < start {
        return Ok(Some(Bson::Int32(-1)));
    }
    if start == 0 && input.is_empty() && token.is_empty() {
        return Ok(Some(Bson::Int32(0)));
    }
    // The match must lie entirely before the ending code point (MongoDB checks that
    // `$indexOfCP: [s, t, start, end]` equals `$indexOfCP` on `$substrCP: [s, start, end - start]`).
    let end_byte = cps.get(end).copied().unwrap_or(input.len());
    for (cp, &byte) in cps.iter().enumerate().take(end).skip(start) {
        if input.as_bytes()[byte..end_byte].starts_with(token.as_bytes()) {
            return Ok(Some(Bson::Int32(i32::try_from(cp).unwrap_or(-1))));
        }
    }
    Ok(Some(Bson::Int32(-1)))
}

// ---- $trim / $ltrim / $rtrim ----

const DEFAULT_TRIM: &[char] = &[
    '\0', ' ', '\t', '\n', '\u{0B}', '\u{0C}', '\r', '\u{A0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}',
    '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200A}',
];

pub(crate) fn parse_trim(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d =
        object_arg(arg, |found| loc(50696, format!("{name} only supports an object as an argument, found {found}")))?;
    let args =
        named_args(d, &["input", "chars"], ctx, |k| loc(50694, format!("{name} found an unknown argument: {k}")))?;
    require(&args[0], || loc(50695, format!("{name} requires an 'input' field")))?;
    Ok(call(name, eval_trim, args, OpData::None))
}

fn eval_trim(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let input = env.eval(&c.args[0])?;
    if is_nullish(&input) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::String(input)) = input else {
        return Err(loc(
            50699,
            format!(
                "{} requires its input to be a string, got {} (of type {}) instead.",
                c.name,
                display(&input),
                type_name(&input)
            ),
        ));
    };
    let chars: Vec<char> = if c.args[1].is_absent() {
        DEFAULT_TRIM.to_vec()
    } else {
        let cv = env.eval(&c.args[1])?;
        if is_nullish(&cv) {
            return Ok(Some(Bson::Null));
        }
        match cv {
            Some(Bson::String(cs)) => cs.chars().collect(),
            other => {
                return Err(loc(
                    50700,
                    format!(
                        "{} requires 'chars' to be a string, got {} (of type {}) instead.",
                        c.name,
                        display(&other),
                        type_name(&other)
                    ),
                ))
            }
        }
    };
    let out = match c.name {
        "$ltrim" => input.trim_start_matches(chars.as_slice()),
        "$rtrim" => input.trim_end_matches(chars.as_slice()),
        _ => input.trim_matches(chars.as_slice()),
    };
    Ok(s(out.to_string()))
}

// ---- $replaceOne / $replaceAll ----

pub(crate) fn parse_replace(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |found| loc(51751, format!("{name} requires an object as an argument, found: {found}")))?;
    let args = named_args(d, &["input", "find", "replacement"], ctx, |k| {
        loc(51750, format!("{name} found an unknown argument: {k}"))
    })?;
    require(&args[0], || loc(51749, format!("{name} requires 'input' to be specified")))?;
    require(&args[1], || loc(51748, format!("{name} requires 'find' to be specified")))?;
    require(&args[2], || loc(51747, format!("{name} requires 'replacement' to be specified")))?;
    Ok(call(name, eval_replace, args, OpData::None))
}

fn eval_replace(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let input = env.eval(&c.args[0])?;
    let find = env.eval(&c.args[1])?;
    let repl = env.eval(&c.args[2])?;
    let check = |val: &Value, code: i32, what: &str| -> DocDbResult<()> {
        if is_nullish(val) || matches!(val, Some(Bson::String(_))) {
            Ok(())
        } else {
            Err(loc(code, format!("{} requires that '{what}' be a string, found: {}", c.name, display(val))))
        }
    };
    check(&input, 51746, "input")?;
    check(&find, 51745, "find")?;
    check(&repl, 51744, "replacement")?;
    match (input, find, repl) {
        (Some(Bson::String(i)), Some(Bson::String(f)), Some(Bson::String(r))) => {
            // The result's length, checked before it is built.
            let matches = if c.name == "$replaceOne" {
                usize::from(i.contains(f.as_str()))
            } else if f.is_empty() {
                i.chars().count() + 1
            } else {
                i.matches(f.as_str()).count()
            };
            let out_len = (i.len() - matches * f.len()).saturating_add(matches.saturating_mul(r.len()));
            check_string_length(out_len)?;
            Ok(s(if c.name == "$replaceOne" {
                i.replacen(f.as_str(), &r, 1)
            } else if f.is_empty() {
                // An empty 'find' matches before every code point and at the end.
                let mut out = String::with_capacity(out_len);
                for ch in i.chars() {
                    out.push_str(&r);
                    out.push(ch);
                }
                out.push_str(&r);
                out
            } else {
                i.replace(f.as_str(), &r)
            }))
        }
        _ => Ok(Some(Bson::Null)),
    }
}

// ---- regular expressions ----

pub(crate) fn parse_regex(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d =
        object_arg(arg, |found| loc(51103, format!("{name} expects an object of named arguments but found: {found}")))?;
    let args = named_args(d, &["input", "regex", "options"], ctx, |k| {
        loc(31024, format!("{name} found an unknown argument: {k}"))
    })?;
    require(&args[0], || loc(31022, format!("{name} requires 'input' parameter")))?;
    require(&args[1], || loc(31023, format!("{name} requires 'regex' parameter")))?;
    let mut data = OpData::Regex(None);
    if let (Node::Const(pattern), options) = (&args[1], &args[2]) {
        let options = match options {
            Node::Absent => Some(None),
            Node::Const(o) => Some(o.clone()),
            _ => None,
        };
        if let Some(options) = options {
            if let Some((p, o)) = regex_pattern_and_options(name, pattern, &options)? {
                data = OpData::Regex(Some(Arc::new(compile_regex(&p, &o, name)?)));
            }
        }
    }
    Ok(call(name, eval_regex, args, data))
}

/// Validates and extracts (pattern, options); `None` when the pattern is nullish.
fn regex_pattern_and_options(op: &str, pattern: &Value, options: &Value) -> DocDbResult<Option<(String, String)>> {
    if !(is_nullish(options) || matches!(options, Some(Bson::String(_)))) {
        return Err(loc(51106, format!("{op} needs 'options' to be of type string")));
    }
    let opts = match options {
        Some(Bson::String(o)) => Some(o.clone()),
        _ => None,
    };
    let (pat, flags) = match pattern {
        Some(Bson::RegularExpression(r)) => {
            let flags = r.options.as_str().to_string();
            if opts.is_some() && !flags.is_empty() {
                return Err(loc(
                    51107,
                    format!("{op}: found regex option(s) specified in both 'regex' and 'option' fields"),
                ));
            }
            (Some(r.pattern.as_str().to_string()), flags)
        }
        Some(Bson::String(p)) => (Some(p.clone()), String::new()),
        v if is_nullish(v) => (None, String::new()),
        _ => return Err(loc(51105, format!("{op} needs 'regex' to be of type string or regex"))),
    };
    let options = opts.unwrap_or(flags);
    if pat.as_deref().is_some_and(|p| p.contains('\0')) {
        return Err(loc(51109, format!("{op}: regular expression cannot contain an embedded null byte")));
    }
    if options.contains('\0') {
        return Err(loc(51110, format!("{op}: regular expression options cannot contain an embedded null byte")));
    }
    Ok(pat.map(|p| (p, options)))
}

fn match_doc(input: &str, start: usize, end: usize, caps: &[Option<(usize, usize)>], cp_index: usize) -> Bson {
    let captures: Vec<Bson> = caps
        .iter()
        .map(|c| match c {
            Some((a, b)) => Bson::String(input.get(*a..*b).unwrap_or_default().to_string()),
            None => Bson::Null,
        })
        .collect();
    Bson::Document(bson::doc! {
        "match": input.get(start..end).unwrap_or_default(),
        "idx": i32::try_from(cp_index).unwrap_or(i32::MAX),
        "captures": captures,
    })
}

fn eval_regex(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let input = env.eval(&c.args[0])?;
    let pattern = env.eval(&c.args[1])?;
    let options = env.eval(&c.args[2])?;
    if !(is_nullish(&input) || matches!(input, Some(Bson::String(_)))) {
        return Err(loc(51104, format!("{} needs 'input' to be of type string", c.name)));
    }
    let compiled: Option<Arc<CompiledRegex>> = match &c.data {
        OpData::Regex(Some(r)) => Some(r.clone()),
        _ => match regex_pattern_and_options(c.name, &pattern, &options)? {
            Some((p, o)) => Some(Arc::new(compile_regex(&p, &o, c.name)?)),
            None => None,
        },
    };
    let nullish_result = || -> Value {
        match c.name {
            "$regexMatch" => Some(Bson::Boolean(false)),
            "$regexFindAll" => Some(Bson::Array(Vec::new())),
            _ => Some(Bson::Null),
        }
    };
    let (Some(Bson::String(text)), Some(re)) = (input, compiled) else {
        return Ok(nullish_result());
    };
    let re = &re.regex;
    let exec_err = |e: pcre2::Error| {
        DocDbError::new(
            ErrorCode::new(51156),
            format!("Error occurred while executing the regular expression in {}. Result code: {e}", c.name),
        )
    };
    let mut locs = re.capture_locations();
    let groups = re.captures_len().saturating_sub(1);
    let bytes = text.as_bytes();
    match c.name {
        "$regexMatch" => Ok(Some(Bson::Boolean(re.is_match(bytes).map_err(exec_err)?))),
        "$regexFind" => match re.captures_read_at(&mut locs, bytes, 0).map_err(exec_err)? {
            None => Ok(Some(Bson::Null)),
            Some(m) => {
                let caps: Vec<_> = (1..=groups).map(|i| locs.get(i)).collect();
                let cp = text[..m.start()].chars().count();
                Ok(Some(match_doc(&text, m.start(), m.end(), &caps, cp)))
            }
        },
        _ => {
            let mut out = Vec::new();
            let mut pos = 0usize;
            let mut total = 0usize;
            let mut budget = SizeBudget::new(c.name);
            // Code points before the match, counted on from the previous match's start.
            let (mut cp, mut cp_byte) = (0usize, 0usize);
            while let Some(m) = re.captures_read_at(&mut locs, bytes, pos).map_err(exec_err)? {
                let caps: Vec<_> = (1..=groups).map(|i| locs.get(i)).collect();
                cp += text[cp_byte..m.start()].chars().count();
                cp_byte = m.start();
                let doc = match_doc(&text, m.start(), m.end(), &caps, cp);
                total += value_bounds::approximate_size(&doc);
                budget.add_value(&doc)?;
                if total > 64 * 1024 * 1024 {
                    return Err(loc(
                        51151,
                        format!("{}: the size of buffer to store output exceeded the 64MB limit", c.name),
                    ));
                }
                out.push(doc);
                if m.end() == m.start() {
                    // Empty match: advance one code point.
                    let step = text[m.start()..].chars().next().map(char::len_utf8).unwrap_or(1);
                    pos = m.start() + step;
                } else {
                    pos = m.end();
                }
                if pos >= bytes.len() {
                    break;
                }
            }
            Ok(Some(Bson::Array(out)))
        }
    }
}
