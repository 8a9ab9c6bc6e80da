//! Regular expressions of `$regexMatch`, `$regexFind` and `$regexFindAll`: PCRE with
//! MongoDB's option letters.
use documentdb_errors::DocDbResult;

use super::operator_args::loc;

/// A compiled PCRE pattern.
#[derive(Debug)]
pub(crate) struct CompiledRegex {
    pub regex: pcre2::bytes::Regex,
}

/// Builds a PCRE regex with MongoDB's option letters (`i`, `m`, `s`, `x`, `u`).
pub(crate) fn compile_regex(pattern: &str, options: &str, op: &str) -> DocDbResult<CompiledRegex> {
    let mut b = pcre2::bytes::RegexBuilder::new();
    b.utf(true).jit_if_available(true);
    for f in options.chars() {
        match f {
            'i' => {
                b.caseless(true);
            }
            'm' => {
                b.multi_line(true);
            }
            's' => {
                b.dotall(true);
            }
            'x' => {
                b.extended(true);
            }
            'u' => {}
            other => return Err(loc(51108, format!("{op} invalid flag in regex options: {other}"))),
        }
    }
    b.build(pattern).map(|regex| CompiledRegex { regex }).map_err(|e| loc(51111, format!("Invalid Regex in {op}: {e}")))
}
