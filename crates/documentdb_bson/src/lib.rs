//! Everything about one BSON value that does not need PostgreSQL: parsing and printing
//! Extended JSON, structural validation, MongoDB's cross-type comparison order, a hash
//! consistent with that order, and dotted-path access. All functions work on borrowed
//! raw bytes (`bson::RawDocument` / `bson::RawBsonRef`) and never decode a whole document
//! into `bson::Document` on a hot path.

// A pure crate: no PostgreSQL, no unsafe.
#![forbid(unsafe_code)]

pub mod compare;
pub mod extjson;
pub mod hash;
pub mod number;
pub mod path;
pub mod raw_reader;
pub mod stack;
pub mod type_name;
pub mod validate;

pub use bson;
pub use compare::{compare_documents, compare_values};
pub use type_name::type_name;
pub use validate::{validate_document, MAX_BSON_SIZE, MAX_NESTING_DEPTH, MAX_VALUE_DEPTH};

/// Byte spans of a document's top-level elements: `(key, start, end)` with
/// `doc[start..end]` the whole element. For splicing documents without decoding them.
pub fn element_spans(doc: &[u8]) -> raw_reader::ElementSpans<'_> {
    raw_reader::ElementSpans::new(doc)
}
