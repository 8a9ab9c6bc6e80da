//! `let` variables of find/aggregate/update/delete/findAndModify: each value is an
//! expression evaluated once, before the command runs; the results are constants the
//! command's expressions read as `$$name`.

use bson::{RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};
use documentdb_query::expr::{ExprContext, Expression};

/// Checks MongoDB's variable-name rules.
fn check_name(name: &str) -> DocDbResult<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || !c.is_ascii());
    if !first_ok {
        return Err(DocDbError::new(
            ErrorCode::new(16867),
            format!("'{name}' starts with an invalid character for a user variable name"),
        ));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || !c.is_ascii())) {
        return Err(DocDbError::new(
            ErrorCode::new(16868),
            format!("'{name}' contains an invalid character for a variable name: '{bad}'"),
        ));
    }
    Ok(())
}

/// Evaluates a `let` document into a document of constant values.
pub fn evaluate_let(spec: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let empty = RawDocumentBuf::new();
    let mut out = bson::Document::new();
    for element in spec {
        let (name, value) = element.map_err(|e| DocDbError::new(ErrorCode::InvalidBSON, e.to_string()))?;
        check_name(name.as_str())?;
        let ctx = ExprContext { variables: out.clone() };
        let expr = Expression::parse(value, &ctx)?;
        match expr.evaluate(&empty)? {
            Some(v) => {
                out.insert(name.as_str(), v);
            }
            None => {
                out.insert(name.as_str(), bson::Bson::Null);
            }
        }
    }
    documentdb_query::document::to_raw_document(&out)
}

/// Evaluated `let` variables (a document of constants, from [`evaluate_let`]) as the
/// context expressions and filters read `$$name` from.
pub fn context_of(vars: &RawDocument) -> DocDbResult<ExprContext> {
    let variables =
        bson::Document::try_from(vars).map_err(|e| DocDbError::new(ErrorCode::InvalidBSON, e.to_string()))?;
    Ok(ExprContext { variables })
}
