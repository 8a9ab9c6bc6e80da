//! `$redact`: restricts a document's content by an expression evaluated at every level.
//!
//! As MongoDB's `DocumentSourceRedact` does it:
//! * the expression is parsed with three more variables, `$$DESCEND`, `$$PRUNE` and
//!   `$$KEEP`, bound to the strings `"descend"`, `"prune"` and `"keep"`; they exist only
//!   in `$redact`'s expression (elsewhere MongoDB reports 17276, "Use of undefined
//!   variable"), and a result is recognised by value, so a literal `"keep"` keeps too;
//! * the expression is evaluated on the document with `$$ROOT` and `$$CURRENT` the
//!   document; `$$KEEP` returns the current (sub)document as it is, `$$PRUNE` drops it,
//!   `$$DESCEND` keeps its fields, evaluating the expression again (with `$$CURRENT` the
//!   embedded document, `$$ROOT` unchanged) on every embedded document, including the
//!   documents in arrays and in arrays of arrays; pruned ones are removed, other array
//!   elements kept;
//! * any other result is error 17053.

use bson::{Bson, RawArray, RawArrayBuf, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::expr::value;
use crate::expr::{ExprContext, Expression};
use crate::spec_error::invalid_bson;

/// The values of `$$DESCEND`, `$$PRUNE` and `$$KEEP` (MongoDB's `descendVal`, `pruneVal`,
/// `keepVal`).
pub const DESCEND: &str = "descend";
pub const PRUNE: &str = "prune";
pub const KEEP: &str = "keep";

/// A parsed `$redact` stage.
#[derive(Debug, Clone)]
pub struct Redact {
    expression: Expression,
}

/// What the expression said about one (sub)document.
enum Decision {
    Keep,
    Prune,
    Descend,
}

/// Parses the argument of `$redact` (any expression), with `$$DESCEND`, `$$PRUNE` and
/// `$$KEEP` defined.
pub fn parse(expr: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<Redact> {
    let mut redact_ctx = ctx.clone();
    redact_ctx.variables.insert("DESCEND", DESCEND);
    redact_ctx.variables.insert("PRUNE", PRUNE);
    redact_ctx.variables.insert("KEEP", KEEP);
    Ok(Redact { expression: Expression::parse(expr, &redact_ctx)? })
}

impl Redact {
    /// The redacted document, `None` when the document itself is pruned.
    pub fn apply(&self, doc: &RawDocument) -> DocDbResult<Option<RawDocumentBuf>> {
        let decision = decide(self.expression.evaluate(doc)?)?;
        self.redact_object(doc, doc, decision)
    }

    fn redact_object(
        &self,
        root: &RawDocument,
        current: &RawDocument,
        decision: Decision,
    ) -> DocDbResult<Option<RawDocumentBuf>> {
        match decision {
            Decision::Keep => Ok(Some(current.to_owned())),
            Decision::Prune => Ok(None),
            Decision::Descend => {
                documentdb_bson::stack::guard()?;
                let mut out = RawDocumentBuf::new();
                for element in current {
                    let (key, field) = element.map_err(invalid_bson)?;
                    if let Some(kept) = self.redact_value(root, field)? {
                        out.append(key, kept);
                    }
                }
                Ok(Some(out))
            }
        }
    }

    /// An embedded document: evaluated with `$$CURRENT` bound to it.
    fn redact_embedded(&self, root: &RawDocument, current: &RawDocument) -> DocDbResult<Option<RawDocumentBuf>> {
        let owned = bson::Document::try_from(current).map_err(invalid_bson)?;
        let decision = decide(self.expression.evaluate_with_current(root, owned)?)?;
        self.redact_object(root, current, decision)
    }

    /// MongoDB's `redactValue`: documents are redacted, arrays redacted element by element
    /// (dropping pruned documents), other values kept. `None` = removed.
    fn redact_value(&self, root: &RawDocument, value: RawBsonRef<'_>) -> DocDbResult<Option<RawBson>> {
        match value {
            RawBsonRef::Document(d) => Ok(self.redact_embedded(root, d)?.map(RawBson::Document)),
            RawBsonRef::Array(a) => Ok(Some(RawBson::Array(self.redact_array(root, a)?))),
            other => Ok(Some(RawBson::from(other))),
        }
    }

    fn redact_array(&self, root: &RawDocument, array: &RawArray) -> DocDbResult<RawArrayBuf> {
        documentdb_bson::stack::guard()?;
        let mut out = RawArrayBuf::new();
        for element in array {
            let element = element.map_err(invalid_bson)?;
            if let Some(kept) = self.redact_value(root, element)? {
                out.push(kept);
            }
        }
        Ok(out)
    }
}

fn decide(result: crate::Value) -> DocDbResult<Decision> {
    if let Some(Bson::String(s) | Bson::Symbol(s)) = &result {
        match s.as_str() {
            KEEP => return Ok(Decision::Keep),
            PRUNE => return Ok(Decision::Prune),
            DESCEND => return Ok(Decision::Descend),
            _ => {}
        }
    }
    Err(DocDbError::new(
        ErrorCode::new(17053),
        format!(
            "$redact's expression should not return anything aside from the variables $$KEEP, $$DESCEND, and \
             $$PRUNE, but returned {}",
            value::display(&result)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc};

    fn redact(expr: Bson, doc: &RawDocument) -> DocDbResult<Option<RawDocumentBuf>> {
        let raw = RawBson::try_from(expr).unwrap();
        parse(raw.as_raw_bson_ref(), &ExprContext::default())?.apply(doc)
    }

    fn to_doc(d: Option<RawDocumentBuf>) -> Option<bson::Document> {
        d.map(|d| bson::Document::try_from(d.as_ref()).unwrap())
    }

    /// Manual ($redact, "Evaluate Access at Every Document/Sub-document Level"): the
    /// forecasts document keeps the subsections whose tags meet the user's, the third
    /// (tagged "TK") is pruned with its content.
    #[test]
    fn manual_forecasts_with_tags() {
        let forecast = rawdoc! {
            "_id": 1, "title": "123 Department Report", "tags": ["G", "STLW"], "year": 2014,
            "subsections": [
                { "subtitle": "Section 1: Overview", "tags": ["SI", "G"],
                  "content": "Section 1: This is the content of section 1." },
                { "subtitle": "Section 2: Analysis", "tags": ["STLW"],
                  "content": "Section 2: This is the content of section 2." },
                { "subtitle": "Section 3: Budgeting", "tags": ["TK"],
                  "content": { "text": "Section 3: This is the content of section3.", "tags": ["HCS"] } },
            ]
        };
        let expr = Bson::Document(doc! { "$cond": {
            "if": { "$gt": [ { "$size": { "$setIntersection": ["$tags", ["STLW", "G"]] } }, 0 ] },
            "then": "$$DESCEND",
            "else": "$$PRUNE",
        }});
        let out = to_doc(redact(expr, &forecast).unwrap());
        assert_eq!(
            out,
            Some(doc! {
                "_id": 1, "title": "123 Department Report", "tags": ["G", "STLW"], "year": 2014,
                "subsections": [
                    { "subtitle": "Section 1: Overview", "tags": ["SI", "G"],
                      "content": "Section 1: This is the content of section 1." },
                    { "subtitle": "Section 2: Analysis", "tags": ["STLW"],
                      "content": "Section 2: This is the content of section 2." },
                ]
            })
        );
    }

    /// Manual ($redact, "Exclude All Fields at a Given Level"): `cc` (level 5) is pruned as
    /// a whole, with the level-3 shipping addresses inside it.
    #[test]
    fn manual_accounts_level_five() {
        let account = rawdoc! {
            "_id": 1, "level": 1, "acct_id": "xyz123",
            "cc": {
                "level": 5, "type": "yy", "num": 0,
                "exp_date": bson::DateTime::from_millis(1_446_336_000_000),
                "billing_addr": { "level": 5, "addr1": "123 ABC Street", "city": "Some City" },
                "shipping_addr": [
                    { "level": 3, "addr1": "987 XYZ Ave", "city": "Some City" },
                    { "level": 3, "addr1": "PO Box 0123", "city": "Some City" },
                ]
            },
            "status": "A"
        };
        let expr = Bson::Document(doc! { "$cond": {
            "if": { "$eq": ["$level", 5] }, "then": "$$PRUNE", "else": "$$DESCEND"
        }});
        let out = to_doc(redact(expr, &account).unwrap());
        assert_eq!(out, Some(doc! { "_id": 1, "level": 1, "acct_id": "xyz123", "status": "A" }));
    }

    /// `$$KEEP` returns the level without looking further; `$$PRUNE` at the top drops
    /// the document.
    #[test]
    fn keep_and_prune_at_the_top() {
        let d = rawdoc! { "a": 1, "b": { "level": 5 } };
        assert_eq!(redact(Bson::String("$$KEEP".into()), &d).unwrap(), Some(d.clone()));
        assert_eq!(redact(Bson::String("$$PRUNE".into()), &d).unwrap(), None);
    }

    /// MongoDB compares the result with the strings the variables hold, so the literal
    /// strings work too.
    #[test]
    fn results_are_compared_by_value() {
        let d = rawdoc! { "a": 1 };
        assert_eq!(redact(Bson::String("keep".into()), &d).unwrap(), Some(d.clone()));
        assert_eq!(redact(Bson::String("prune".into()), &d).unwrap(), None);
    }

    /// `$$ROOT` stays the whole document while `$$CURRENT` (and field paths) follow the
    /// embedded document; arrays of arrays are descended, scalars in arrays kept.
    #[test]
    fn root_and_current_while_descending() {
        let d = rawdoc! {
            "allowed": "x",
            "items": [ { "tag": "x", "v": 1 }, { "tag": "y", "v": 2 }, 7, [ { "tag": "y" }, { "tag": "x" } ] ],
            "one": { "tag": "y" },
        };
        let expr = Bson::Document(doc! { "$cond": [
            { "$or": [ { "$eq": ["$$CURRENT", "$$ROOT"] }, { "$eq": ["$tag", "$$ROOT.allowed"] } ] },
            "$$DESCEND",
            "$$PRUNE",
        ]});
        let out = to_doc(redact(expr, &d).unwrap());
        assert_eq!(out, Some(doc! { "allowed": "x", "items": [ { "tag": "x", "v": 1 }, 7, [ { "tag": "x" } ] ] }));
    }

    /// Any other result is error 17053.
    #[test]
    fn other_results_are_17053() {
        let d = rawdoc! { "a": 1 };
        let err = redact(Bson::Int32(1), &d).unwrap_err();
        assert_eq!(err.code.code(), 17053);
        let err = redact(Bson::String("$missing".into()), &d).unwrap_err();
        assert_eq!(err.code.code(), 17053);
        assert!(err.message.ends_with("but returned MISSING"), "{}", err.message);
    }

    /// The variables exist only inside `$redact` (MongoDB defines them in the stage's own
    /// parse state): elsewhere they are undefined.
    #[test]
    fn variables_only_in_redact() {
        let raw = RawBson::String("$$KEEP".into());
        let err = Expression::parse(raw.as_raw_bson_ref(), &ExprContext::default()).unwrap_err();
        assert_eq!(err.code.code(), 17276);
    }
}
