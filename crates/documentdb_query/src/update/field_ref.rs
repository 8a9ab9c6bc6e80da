//! Update paths as MongoDB's `FieldRef` sees them: dotted parts, the positional `$` and
//! the array-filter identifiers `$[]` / `$[<identifier>]`.

/// Splits a dotted path like MongoDB's `FieldRef` (`""` has no parts).
pub(crate) fn split_path(path: &str) -> Vec<String> {
    if path.is_empty() {
        return Vec::new();
    }
    path.split('.').map(str::to_owned).collect()
}

pub(crate) fn is_positional(part: &str) -> bool {
    part == "$"
}

/// `$[]` or `$[<identifier>]`.
pub(crate) fn is_array_filter_identifier(part: &str) -> bool {
    part.len() >= 3 && part.starts_with("$[") && part.ends_with(']')
}
