//! `writeConcern` with its single-node meaning: `w: 1` and `"majority"` are satisfied once the
//! write commits (PostgreSQL's commit is durable: `j` holds too), `w: 0` is unacknowledged
//! (the driver sends no reply request), and what one member cannot satisfy is reported as
//! MongoDB reports it — after applying the write, a `writeConcernError`: 100
//! UnsatisfiableWriteConcern for `w` above 1, 79 UnknownReplWriteConcern for a tag set the
//! configuration has none of. Malformed concerns are refused before anything runs.

use bson::{doc, Document, RawBsonRef, RawDocument};
use documentdb_bson::type_name;
use documentdb_errors::ErrorCode;

use crate::error::{CommandError, CommandResult};

/// What the concern asks of the set, once it parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Satisfied,
    /// More members than the set has.
    Unsatisfiable,
    /// A tag set (custom write concern mode) the configuration does not define.
    UnknownMode(String),
}

fn parse_error(message: String) -> CommandError {
    CommandError::new(ErrorCode::FailedToParse, message)
}

/// Parses the command's `writeConcern` (MongoDB's WriteConcernOptions rules).
pub fn check(body: &RawDocument) -> CommandResult<Outcome> {
    let wc = match body.get("writeConcern")? {
        None => return Ok(Outcome::Satisfied),
        Some(RawBsonRef::Document(wc)) => wc,
        Some(other) => {
            return Err(CommandError::type_mismatch(format!(
                "BSON field 'writeConcern' is the wrong type '{}', expected type 'object'",
                type_name(other.element_type())
            )))
        }
    };
    let mut outcome = Outcome::Satisfied;
    for element in wc {
        let (key, value) = element?;
        match key.as_str() {
            "w" => {
                outcome = match value {
                    RawBsonRef::Int32(_) | RawBsonRef::Int64(_) | RawBsonRef::Double(_) => {
                        let n = match value {
                            RawBsonRef::Int32(i) => f64::from(i),
                            RawBsonRef::Int64(i) => i as f64,
                            RawBsonRef::Double(d) => d,
                            _ => 0.0,
                        };
                        if !(0.0..=50.0).contains(&n) || n.fract() != 0.0 {
                            return Err(parse_error(format!(
                                "w has to be a non-negative number and not greater than 50; found: {n}"
                            )));
                        }
                        if n > 1.0 {
                            Outcome::Unsatisfiable
                        } else {
                            Outcome::Satisfied
                        }
                    }
                    RawBsonRef::String("majority") => Outcome::Satisfied,
                    RawBsonRef::String(mode) => Outcome::UnknownMode(mode.to_owned()),
                    other => {
                        return Err(parse_error(format!(
                            "w has to be a number or string; found: {}",
                            type_name(other.element_type())
                        )))
                    }
                };
            }
            "j" | "fsync" => match value {
                RawBsonRef::Boolean(_) | RawBsonRef::Int32(_) | RawBsonRef::Int64(_) | RawBsonRef::Double(_) => {}
                RawBsonRef::Null | RawBsonRef::Undefined => {}
                other => {
                    return Err(parse_error(format!(
                        "{} must be numeric or a boolean value; found: {}",
                        key.as_str(),
                        type_name(other.element_type())
                    )))
                }
            },
            "wtimeout" | "wtimeoutMS" => match value {
                RawBsonRef::Int32(_) | RawBsonRef::Int64(_) | RawBsonRef::Double(_) => {}
                other => {
                    return Err(parse_error(format!(
                        "wtimeout must be a number; found: {}",
                        type_name(other.element_type())
                    )))
                }
            },
            // Set by mongos/drivers for diagnostics; nothing to check.
            "provenance" | "getLastError" | "wElectionId" | "wOpTime" => {}
            _ => {}
        }
    }
    Ok(outcome)
}

/// The `writeConcernError` a successful reply carries for `outcome`, if any.
pub fn error_document(outcome: &Outcome, body: &RawDocument) -> Option<Document> {
    let concern = body.get_document("writeConcern").ok().and_then(|d| Document::try_from(d).ok()).unwrap_or_default();
    match outcome {
        Outcome::Satisfied => None,
        Outcome::Unsatisfiable => Some(doc! {
            "code": 100,
            "codeName": "UnsatisfiableWriteConcern",
            "errmsg": "Not enough data-bearing nodes",
            "errInfo": { "writeConcern": concern },
        }),
        Outcome::UnknownMode(mode) => Some(doc! {
            "code": 79,
            "codeName": "UnknownReplWriteConcern",
            "errmsg": format!("No write concern mode named '{mode}' found in replica set configuration"),
            "errInfo": { "writeConcern": concern },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    fn outcome(wc: bson::RawDocumentBuf) -> CommandResult<Outcome> {
        check(&rawdoc! { "insert": "c", "writeConcern": wc })
    }

    /// Manual (write concern) and the read-write-concern spec's writeConcernError examples.
    #[test]
    fn single_node_meaning() {
        for ok in [
            rawdoc! { "w": 1 },
            rawdoc! { "w": "majority", "j": true },
            rawdoc! { "w": 0 },
            rawdoc! { "wtimeout": 100 },
        ] {
            assert_eq!(outcome(ok.clone()).unwrap(), Outcome::Satisfied, "{ok:?}");
        }
        assert_eq!(outcome(rawdoc! { "w": 2 }).unwrap(), Outcome::Unsatisfiable);
        assert_eq!(outcome(rawdoc! { "w": "dc1" }).unwrap(), Outcome::UnknownMode("dc1".into()));
        for bad in [
            rawdoc! { "w": -1 },
            rawdoc! { "w": 51 },
            rawdoc! { "w": true },
            rawdoc! { "j": "yes" },
            rawdoc! { "wtimeout": "x" },
        ] {
            assert_eq!(outcome(bad.clone()).unwrap_err().code, ErrorCode::FailedToParse, "{bad:?}");
        }
        assert_eq!(check(&rawdoc! { "insert": "c", "writeConcern": 1 }).unwrap_err().code, ErrorCode::TypeMismatch);
        let body = rawdoc! { "insert": "c", "writeConcern": { "w": 3 } };
        let e = error_document(&Outcome::Unsatisfiable, &body).unwrap();
        assert_eq!(e.get_i32("code").unwrap(), 100);
    }
}
