//! `configureFailPoint` with MongoDB's `failCommand` fail point, so drivers' and users' tests
//! can inject errors, dropped connections, delays and write-concern errors. It is a test-only
//! command: answered only when test commands are enabled (MongoDB's `enableTestCommands`),
//! otherwise the command does not exist.
//!
//! The fail point is gateway-wide (as in `mongod`, process-wide). Its `mode` is `"alwaysOn"`,
//! `"off"`, `{times: n}` (fire n times, then turn off) or `{skip: n}` (pass n matches, then
//! fire on every later one); `data` selects commands (`failCommands`, optional `appName`) and
//! says what happens: `closeConnection`, `errorCode` (with `errorLabels`), `writeConcernError`,
//! and `blockConnection` with `blockTimeMS` before any of those.

use std::sync::Mutex;
use std::time::Duration;

use bson::{Bson, Document, RawBsonRef, RawDocument};
use documentdb_bson::MAX_NESTING_DEPTH;
use documentdb_errors::ErrorCode;

use crate::error::{CommandError, CommandResult};

/// MongoDB's fail point of commands.
pub const FAIL_COMMAND: &str = "failCommand";
/// MongoDB's fail point of retryable writes on the primary (the retryable-writes spec tests):
/// the write commits then the connection closes, or it fails before committing.
pub const ON_PRIMARY_TRANSACTIONAL_WRITE: &str = "onPrimaryTransactionalWrite";

/// What `onPrimaryTransactionalWrite` does to one retryable write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionalWriteAction {
    /// Close the connection instead of replying (default true).
    pub close_connection: bool,
    /// Fail with this code before committing (nothing is written); else the write commits.
    pub fail_before_commit: Option<i32>,
}

#[derive(Debug, Clone)]
struct TransactionalWrite {
    mode: Mode,
    action: TransactionalWriteAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    AlwaysOn,
    Times(i64),
    Skip(i64),
}

impl Mode {
    /// One match of the fail point: whether it fires, stepping `{skip}` and `{times}` (the
    /// last of `times` turns it off).
    fn fire(&mut self) -> bool {
        match self {
            Mode::Off => false,
            Mode::AlwaysOn => true,
            Mode::Skip(n) if *n > 0 => {
                *n -= 1;
                false
            }
            Mode::Skip(_) => true,
            Mode::Times(n) => {
                *n -= 1;
                if *n <= 0 {
                    *self = Mode::Off;
                }
                true
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Action {
    pub close_connection: bool,
    pub error_code: Option<i32>,
    pub error_labels: Option<Vec<String>>,
    pub write_concern_error: Option<Document>,
    pub block_for: Option<Duration>,
}

#[derive(Debug, Clone)]
struct FailCommand {
    mode: Mode,
    commands: Vec<String>,
    app_name: Option<String>,
    action: Action,
}

/// The gateway's fail point state.
#[derive(Debug, Default)]
pub struct FailPoints {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    fail_command: Option<FailCommand>,
    transactional_write: Option<TransactionalWrite>,
    /// How often it fired since it was configured (the `count` `configureFailPoint` replies with).
    times_entered: i64,
}

impl FailPoints {
    /// `configureFailPoint`: validates and installs (or turns off) the fail point; the reply's
    /// `count` is how many times it had fired before.
    pub fn configure(&self, body: &RawDocument) -> CommandResult<Document> {
        let name = match body.get("configureFailPoint")? {
            Some(RawBsonRef::String(s)) => s,
            _ => return Err(CommandError::type_mismatch("configureFailPoint must be a string naming the fail point")),
        };
        if name != FAIL_COMMAND && name != ON_PRIMARY_TRANSACTIONAL_WRITE {
            return Err(CommandError::bad_value(format!(
                "Cannot find failPoint named {name:?} (the gateway supports {FAIL_COMMAND:?} and \
                 {ON_PRIMARY_TRANSACTIONAL_WRITE:?})"
            )));
        }
        let mode = parse_mode(body.get("mode")?)?;
        let data = match body.get("data")? {
            None => None,
            Some(RawBsonRef::Document(d)) => Some(d),
            Some(_) => return Err(CommandError::type_mismatch("the 'data' option must be an object")),
        };
        if name == ON_PRIMARY_TRANSACTIONAL_WRITE {
            let point = match mode {
                Mode::Off => None,
                mode => Some(TransactionalWrite { mode, action: parse_transactional_write(data)? }),
            };
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let previous = std::mem::replace(&mut state.times_entered, 0);
            state.transactional_write = point;
            return Ok(bson::doc! { "count": previous, "ok": 1.0 });
        }
        let new_state = match (mode, data) {
            (Mode::Off, _) => None,
            (_, None) => return Err(CommandError::bad_value("failCommand requires 'data' with 'failCommands'")),
            (mode, Some(data)) => Some(parse_data(mode, data)?),
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let previous = std::mem::replace(&mut state.times_entered, 0);
        state.fail_command = new_state;
        Ok(bson::doc! { "count": previous, "ok": 1.0 })
    }

    /// What to do for `command` from a client named `app_name`, counting the hit; `None` when
    /// the fail point is off or doesn't match.
    pub fn check(&self, command: &str, app_name: Option<&str>) -> Option<Action> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let fp = state.fail_command.as_mut()?;
        if !fp.commands.iter().any(|c| c == command) {
            return None;
        }
        if let Some(wanted) = &fp.app_name {
            if app_name != Some(wanted.as_str()) {
                return None;
            }
        }
        if !fp.mode.fire() {
            return None;
        }
        let action = fp.action.clone();
        if fp.mode == Mode::Off {
            state.fail_command = None;
        }
        state.times_entered += 1;
        Some(action)
    }
}

impl FailPoints {
    /// What `onPrimaryTransactionalWrite` does to the retryable write about to run, counting
    /// the hit; `None` when it is off.
    pub fn check_transactional_write(&self) -> Option<TransactionalWriteAction> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let point = state.transactional_write.as_mut()?;
        if !point.mode.fire() {
            return None;
        }
        let action = point.action;
        if point.mode == Mode::Off {
            state.transactional_write = None;
        }
        state.times_entered += 1;
        Some(action)
    }
}

/// `onPrimaryTransactionalWrite`'s data: `closeConnection` (default true) and
/// `failBeforeCommitExceptionCode`.
fn parse_transactional_write(data: Option<&RawDocument>) -> CommandResult<TransactionalWriteAction> {
    let mut action = TransactionalWriteAction { close_connection: true, fail_before_commit: None };
    for field in data.into_iter().flat_map(|d| d.iter()) {
        let (key, value) = field?;
        match (key.as_str(), value) {
            ("closeConnection", RawBsonRef::Boolean(b)) => action.close_connection = b,
            ("failBeforeCommitExceptionCode", v) => {
                action.fail_before_commit = Some(
                    i32::try_from(count(v, "failBeforeCommitExceptionCode")?)
                        .map_err(|_| CommandError::bad_value("failBeforeCommitExceptionCode out of range"))?,
                )
            }
            (other, _) => {
                return Err(CommandError::bad_value(format!(
                    "unsupported onPrimaryTransactionalWrite option {other:?}"
                )))
            }
        }
    }
    Ok(action)
}

fn count(v: RawBsonRef<'_>, what: &str) -> CommandResult<i64> {
    let n = match v {
        RawBsonRef::Int32(i) => i64::from(i),
        RawBsonRef::Int64(i) => i,
        RawBsonRef::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => d as i64,
        _ => return Err(CommandError::type_mismatch(format!("'{what}' must be a whole number"))),
    };
    if n < 0 {
        return Err(CommandError::bad_value(format!("'{what}' must be non-negative")));
    }
    Ok(n)
}

/// The strings of an array option.
fn strings(array: &bson::RawArray, what: &str) -> CommandResult<Vec<String>> {
    let mut out = Vec::new();
    for item in array {
        match item? {
            RawBsonRef::String(s) => out.push(s.to_owned()),
            _ => return Err(CommandError::type_mismatch(format!("'{what}' must be an array of strings"))),
        }
    }
    Ok(out)
}

fn parse_mode(mode: Option<RawBsonRef<'_>>) -> CommandResult<Mode> {
    match mode {
        Some(RawBsonRef::String("off")) => Ok(Mode::Off),
        Some(RawBsonRef::String("alwaysOn")) => Ok(Mode::AlwaysOn),
        Some(RawBsonRef::String(other)) => Err(CommandError::bad_value(format!(
            "unknown fail point mode {other:?}: use \"off\", \"alwaysOn\", {{times: n}} or {{skip: n}}"
        ))),
        Some(RawBsonRef::Document(d)) => {
            let mut fields = d.iter();
            match fields.next().transpose()? {
                Some((key, v)) if fields.next().is_none() => match key.as_str() {
                    "times" => {
                        let n = count(v, "times")?;
                        Ok(if n == 0 { Mode::Off } else { Mode::Times(n) })
                    }
                    "skip" => Ok(Mode::Skip(count(v, "skip")?)),
                    "activationProbability" => {
                        Err(CommandError::new(ErrorCode::CommandNotSupported, "activationProbability is not supported"))
                    }
                    other => Err(CommandError::bad_value(format!("unknown fail point mode option {other:?}"))),
                },
                _ => Err(CommandError::bad_value("a fail point mode object has exactly one of 'times' or 'skip'")),
            }
        }
        None => Err(CommandError::bad_value("configureFailPoint requires 'mode'")),
        Some(_) => Err(CommandError::type_mismatch("'mode' must be a string or an object")),
    }
}

fn parse_data(mode: Mode, data: &RawDocument) -> CommandResult<FailCommand> {
    let mut fp = FailCommand { mode, commands: Vec::new(), app_name: None, action: Action::default() };
    let mut block = false;
    let mut block_ms = None;
    for field in data.iter() {
        let (key, value) = field?;
        match (key.as_str(), value) {
            ("failCommands", RawBsonRef::Array(names)) => fp.commands.extend(strings(names, "failCommands")?),
            ("failCommands", _) => return Err(CommandError::type_mismatch("'failCommands' must be an array")),
            ("appName", RawBsonRef::String(s)) => fp.app_name = Some(s.to_owned()),
            ("appName", _) => return Err(CommandError::type_mismatch("'appName' must be a string")),
            ("closeConnection", RawBsonRef::Boolean(b)) => fp.action.close_connection = b,
            ("closeConnection", _) => return Err(CommandError::type_mismatch("'closeConnection' must be a boolean")),
            ("errorCode", v) => {
                let code = match v {
                    RawBsonRef::Int32(i) => i,
                    RawBsonRef::Int64(i) => {
                        i32::try_from(i).map_err(|_| CommandError::bad_value("errorCode out of range"))?
                    }
                    RawBsonRef::Double(d) if d.fract() == 0.0 && d.abs() <= f64::from(i32::MAX) => d as i32,
                    _ => return Err(CommandError::type_mismatch("'errorCode' must be an integer")),
                };
                fp.action.error_code = Some(code);
            }
            ("errorLabels", RawBsonRef::Array(labels)) => {
                fp.action.error_labels = Some(strings(labels, "errorLabels")?)
            }
            ("errorLabels", _) => return Err(CommandError::type_mismatch("'errorLabels' must be an array")),
            ("writeConcernError", RawBsonRef::Document(d)) => {
                // Converting to a Document recurses once per level: bound the depth first.
                if nests_deeper_than(d, MAX_NESTING_DEPTH) {
                    return Err(CommandError::new(
                        ErrorCode::Overflow,
                        format!("'writeConcernError' nests deeper than {MAX_NESTING_DEPTH} levels"),
                    ));
                }
                fp.action.write_concern_error = Some(Document::try_from(d)?);
            }
            ("writeConcernError", _) => {
                return Err(CommandError::type_mismatch("'writeConcernError' must be an object"));
            }
            ("blockConnection", RawBsonRef::Boolean(b)) => block = b,
            ("blockConnection", _) => return Err(CommandError::type_mismatch("'blockConnection' must be a boolean")),
            ("blockTimeMS", v) => block_ms = Some(count(v, "blockTimeMS")?),
            // Accepted for compatibility; the gateway has no internal client connections.
            ("failInternalCommands", _) | ("namespace", _) => {}
            (other, _) => {
                return Err(CommandError::bad_value(format!("unsupported failCommand option {other:?}")));
            }
        }
    }
    if fp.commands.is_empty() {
        return Err(CommandError::bad_value("failCommand requires a non-empty 'failCommands' array"));
    }
    if block {
        let Some(ms) = block_ms else {
            return Err(CommandError::bad_value("'blockTimeMS' is required when 'blockConnection' is true"));
        };
        fp.action.block_for = Some(Duration::from_millis(ms as u64));
    }
    Ok(fp)
}

impl Action {
    /// The error a fail point answers with, when it sets `errorCode`.
    pub fn error(&self) -> Option<CommandError> {
        let code = self.error_code?;
        let mut err = CommandError::new(ErrorCode::new(code), "Failing command via 'failCommand' failpoint");
        err.kind = "failpoint";
        if let Some(labels) = &self.error_labels {
            err.labels = labels.clone();
        }
        Some(err)
    }

    /// Adds `writeConcernError` (and any labels) to an otherwise successful reply.
    pub fn decorate_reply(&self, reply: Vec<u8>) -> Vec<u8> {
        let Some(wce) = &self.write_concern_error else {
            return reply;
        };
        // The reply is converted recursively: leave one nested too deeply as it is.
        match bson::RawDocument::from_bytes(&reply) {
            Ok(raw) if !nests_deeper_than(raw, 2 * MAX_NESTING_DEPTH) => {}
            _ => return reply,
        }
        let Ok(mut doc) = Document::from_reader(reply.as_slice()) else {
            return reply;
        };
        doc.insert("writeConcernError", wce.clone());
        if let Some(labels) = &self.error_labels {
            doc.insert("errorLabels", labels.iter().map(|l| Bson::from(l.as_str())).collect::<Vec<_>>());
        }
        doc.to_vec().unwrap_or(reply)
    }
}

/// Client documents are checked with this before they are converted to [`Document`] (a
/// recursive conversion: deep nesting would overflow the stack); the check does not recurse.
fn nests_deeper_than(doc: &RawDocument, max: usize) -> bool {
    documentdb_bson::validate::nesting_depth_exceeds(doc.as_bytes(), max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    fn configure(fp: &FailPoints, body: bson::RawDocumentBuf) -> CommandResult<Document> {
        fp.configure(&body)
    }

    #[test]
    fn times_mode_fires_n_times_then_turns_off() {
        let fp = FailPoints::default();
        configure(
            &fp,
            rawdoc! { "configureFailPoint": "failCommand", "mode": { "times": 2 },
            "data": { "failCommands": ["insert"], "errorCode": 8 } },
        )
        .unwrap();
        assert!(fp.check("find", None).is_none());
        let a = fp.check("insert", None).unwrap();
        assert_eq!(a.error().unwrap().code.code(), 8);
        assert!(fp.check("insert", None).is_some());
        assert!(fp.check("insert", None).is_none());
        let reply = configure(&fp, rawdoc! { "configureFailPoint": "failCommand", "mode": "off" }).unwrap();
        assert_eq!(reply.get_i64("count").unwrap(), 2);
    }

    #[test]
    fn skip_mode_and_app_name_filter() {
        let fp = FailPoints::default();
        configure(
            &fp,
            rawdoc! { "configureFailPoint": "failCommand", "mode": { "skip": 1 },
            "data": { "failCommands": ["find"], "closeConnection": true, "appName": "app" } },
        )
        .unwrap();
        assert!(fp.check("find", Some("other")).is_none());
        assert!(fp.check("find", Some("app")).is_none()); // skipped
        assert!(fp.check("find", Some("app")).unwrap().close_connection);
        assert!(fp.check("find", Some("app")).unwrap().close_connection);
    }

    #[test]
    fn invalid_configurations_are_rejected() {
        let fp = FailPoints::default();
        for body in [
            rawdoc! { "configureFailPoint": "nope", "mode": "alwaysOn", "data": { "failCommands": ["find"] } },
            rawdoc! { "configureFailPoint": "failCommand", "mode": "sometimes", "data": { "failCommands": ["find"] } },
            rawdoc! { "configureFailPoint": "failCommand", "mode": "alwaysOn" },
            rawdoc! { "configureFailPoint": "failCommand", "mode": "alwaysOn", "data": { "failCommands": [] } },
            rawdoc! { "configureFailPoint": "failCommand", "mode": { "times": -1 }, "data": { "failCommands": ["a"] } },
            rawdoc! { "configureFailPoint": "failCommand", "mode": "alwaysOn",
            "data": { "failCommands": ["a"], "blockConnection": true } },
        ] {
            assert!(configure(&fp, body).is_err());
        }
        assert!(fp.check("find", None).is_none());
    }

    #[test]
    fn nesting_depth() {
        let mut deep = rawdoc! {"x": 1};
        for _ in 0..5 {
            deep = rawdoc! {"d": deep};
        }
        assert!(!nests_deeper_than(&deep, 5));
        assert!(nests_deeper_than(&deep, 4));
        let arrays = rawdoc! {"a": [[[1]]], "b": 2};
        assert!(!nests_deeper_than(&arrays, 3));
        assert!(nests_deeper_than(&arrays, 2));
        assert!(!nests_deeper_than(&rawdoc! {"a": 1}, 0));
        // Far deeper than the stack would allow a recursive conversion to go.
        assert!(nests_deeper_than(&crate::test_support::deeply_nested(100_000), MAX_NESTING_DEPTH));
    }

    #[test]
    fn deeply_nested_write_concern_error_is_rejected() {
        // Converting it to a Document, recursively, would overflow the stack (a crash of the
        // whole process).
        let fp = FailPoints::default();
        let mut body = rawdoc! { "configureFailPoint": "failCommand", "mode": "alwaysOn" };
        let mut data = rawdoc! { "failCommands": ["insert"] };
        data.append(bson::raw::cstr!("writeConcernError"), crate::test_support::deeply_nested(200_000));
        body.append(bson::raw::cstr!("data"), data);
        let err = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || fp.configure(&body).unwrap_err())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(err.code, ErrorCode::Overflow);
        // A reply nested too deeply to decorate is passed through unchanged.
        let action = Action { write_concern_error: Some(bson::doc! { "code": 91 }), ..Action::default() };
        let deep = crate::test_support::deeply_nested(200_000).into_bytes();
        let out = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || action.decorate_reply(deep))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(out, crate::test_support::deeply_nested(200_000).into_bytes());
    }

    #[test]
    fn write_concern_error_is_added_to_the_reply() {
        let fp = FailPoints::default();
        configure(
            &fp,
            rawdoc! { "configureFailPoint": "failCommand", "mode": "alwaysOn",
            "data": { "failCommands": ["insert"], "writeConcernError": { "code": 91, "errmsg": "Replication is being shut down" } } },
        )
        .unwrap();
        let action = fp.check("insert", None).unwrap();
        assert!(action.error().is_none());
        let reply = action.decorate_reply(bson::doc! { "n": 1, "ok": 1.0 }.to_vec().unwrap());
        let doc = Document::from_reader(reply.as_slice()).unwrap();
        assert_eq!(doc.get_document("writeConcernError").unwrap().get_i32("code").unwrap(), 91);
        assert_eq!(doc.get_i32("n").unwrap(), 1);
    }
}
