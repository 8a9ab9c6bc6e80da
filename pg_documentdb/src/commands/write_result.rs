//! Write command replies: `{ n, nModified?, upserted?, writeErrors?, ok }`.

use bson::{rawdoc, RawArrayBuf, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};

use crate::catalog::Collection;

/// One entry of `writeErrors`.
#[derive(Debug, Clone)]
pub struct WriteError {
    pub index: usize,
    pub code: ErrorCode,
    pub message: String,
    /// Extra fields (keyPattern/keyValue for duplicates, errInfo for validation).
    pub extra: Option<RawDocumentBuf>,
}

impl WriteError {
    pub fn from_error(index: usize, err: DocDbError) -> WriteError {
        let extra = err.details.and_then(|d| RawDocumentBuf::from_bytes(d).ok());
        WriteError { index, code: err.code, message: err.message, extra }
    }

    /// Back to a command error (for single-document commands like findAndModify), keeping
    /// the extra fields as error details.
    pub fn into_error(self) -> DocDbError {
        let err = DocDbError::new(self.code, self.message);
        match self.extra {
            Some(extra) => err.with_details(extra.into_bytes()),
            None => err,
        }
    }

    /// A duplicate `_id` (MongoDB's E11000 message with keyPattern/keyValue).
    pub fn duplicate_id(index: usize, collection: &Collection, id: RawBsonRef<'_>) -> WriteError {
        let mut key_value = RawDocumentBuf::new();
        key_value.append(cstr("_id"), id);
        let shown = relaxed_inline(&key_value);
        let extra = rawdoc! { "keyPattern": { "_id": 1 }, "keyValue": key_value };
        WriteError {
            index,
            code: ErrorCode::DuplicateKey,
            message: format!(
                "E11000 duplicate key error collection: {} index: _id_ dup key: {shown}",
                collection.namespace()
            ),
            extra: Some(extra),
        }
    }

    /// A duplicate key in a secondary unique index.
    pub fn duplicate_key(
        index: usize,
        collection: &Collection,
        index_name: &str,
        key_pattern: RawDocumentBuf,
        key_value: RawDocumentBuf,
    ) -> WriteError {
        let shown = relaxed_inline(&key_value);
        let extra = rawdoc! { "keyPattern": key_pattern, "keyValue": key_value };
        WriteError {
            index,
            code: ErrorCode::DuplicateKey,
            message: format!(
                "E11000 duplicate key error collection: {} index: {index_name} dup key: {shown}",
                collection.namespace()
            ),
            extra: Some(extra),
        }
    }

    fn to_document(&self) -> RawDocumentBuf {
        let mut doc = rawdoc! {
            "index": self.index as i32,
            "code": self.code.code(),
            "errmsg": self.message.as_str(),
        };
        if let Some(extra) = &self.extra {
            for element in extra.iter().flatten() {
                doc.append(element.0, element.1);
            }
        }
        doc
    }
}

/// Shell-style rendering MongoDB uses in messages: `{ _id: 1 }`.
pub fn relaxed_inline(doc: &RawDocument) -> String {
    let mut out = String::from("{ ");
    for (i, element) in doc.iter().flatten().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(element.0.as_str());
        out.push_str(": ");
        match element.1 {
            RawBsonRef::String(s) => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            RawBsonRef::ObjectId(o) => out.push_str(&format!("ObjectId('{}')", o.to_hex())),
            other => documentdb_bson::extjson::write_relaxed_value(other, &mut out),
        }
    }
    out.push_str(" }");
    out
}

pub fn cstr(key: &str) -> &bson::raw::CStr {
    match <&bson::raw::CStr>::try_from(key) {
        Ok(k) => k,
        Err(_) => unreachable!("static keys are valid"),
    }
}

/// Accumulates the outcome of a write command.
#[derive(Debug, Default)]
pub struct WriteResult {
    pub n: i64,
    pub n_modified: Option<i64>,
    pub upserted: Vec<(usize, RawBson)>,
    pub write_errors: Vec<WriteError>,
}

impl WriteResult {
    pub fn success(&self) -> bool {
        self.write_errors.is_empty()
    }

    pub fn to_reply(&self) -> RawDocumentBuf {
        let mut reply = RawDocumentBuf::new();
        append_count(&mut reply, "n", self.n);
        if let Some(modified) = self.n_modified {
            append_count(&mut reply, "nModified", modified);
        }
        if !self.upserted.is_empty() {
            let mut list = RawArrayBuf::new();
            for (index, id) in &self.upserted {
                let mut entry = rawdoc! { "index": *index as i32 };
                entry.append(cstr("_id"), id.clone());
                list.push(entry);
            }
            reply.append(cstr("upserted"), list);
        }
        if !self.write_errors.is_empty() {
            let mut list = RawArrayBuf::new();
            for e in &self.write_errors {
                list.push(e.to_document());
            }
            reply.append(cstr("writeErrors"), list);
        }
        reply.append(cstr("ok"), 1.0);
        reply
    }
}

/// Counts are int32 in MongoDB replies unless they overflow.
pub fn append_count(doc: &mut RawDocumentBuf, key: &str, value: i64) {
    match i32::try_from(value) {
        Ok(v) => doc.append(cstr(key), v),
        Err(_) => doc.append(cstr(key), value),
    }
}
