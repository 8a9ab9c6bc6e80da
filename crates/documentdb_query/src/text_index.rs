//! Text indexes: which strings of a document a text index holds, in which of PostgreSQL's
//! four weight classes and in which language (the index expression feeds them to
//! `to_tsvector`), and the MongoDB shape of their specs (`{_fts: "text", _ftsx: 1}` with
//! `weights`, `default_language`, `language_override`).

use bson::{RawBsonRef, RawDocument};
use documentdb_errors::{bail, docdb_error, DocDbResult};

use crate::text_search::text_search_config;

/// MongoDB's default weight of a text index field.
const DEFAULT_WEIGHT: i64 = 1;

/// A text index as its stored spec describes it (`weights`, `default_language`,
/// `language_override`): which strings of a document it indexes, in which of PostgreSQL's
/// four weight classes (`A` the heaviest), and in which language.
#[derive(Debug, Clone, PartialEq)]
pub struct TextIndex {
    /// (path, weight); `$**` indexes every string of the document.
    pub fields: Vec<(String, i64)>,
    pub default_language: String,
    pub language_override: String,
}

/// The stored spec fields of a text index built from a `createIndexes` request: the key
/// becomes `{_fts: "text", _ftsx: 1}` and the text keys move into `weights` (MongoDB's
/// listIndexes shape). Returns (key, weights, default_language, language_override).
pub fn text_index_spec(
    key: &RawDocument,
    weights: Option<&RawDocument>,
    default_language: Option<&str>,
    language_override: Option<&str>,
) -> DocDbResult<(bson::Document, bson::Document, String, String)> {
    let mut all = bson::Document::new();
    for field in key {
        let (path, kind) = field.map_err(|e| docdb_error!(BadValue, "{e}"))?;
        match kind {
            RawBsonRef::String("text") => {
                all.insert(path.as_str(), DEFAULT_WEIGHT as i32);
            }
            _ => bail!(CannotCreateIndex, "compound text indexes with non-text keys are not supported yet"),
        }
    }
    for field in weights.into_iter().flatten() {
        let (path, weight) = field.map_err(|e| docdb_error!(BadValue, "{e}"))?;
        let weight = match weight {
            RawBsonRef::Int32(w) => i64::from(w),
            RawBsonRef::Int64(w) => w,
            RawBsonRef::Double(w) if w.fract() == 0.0 => w as i64,
            _ => bail!(CannotCreateIndex, "weight for text index needs numeric type"),
        };
        if !(1..=99_999).contains(&weight) {
            bail!(
                CannotCreateIndex,
                "text index weight must be in the exclusive interval (0,100000) but found: {weight}"
            );
        }
        all.insert(path.as_str(), weight as i32);
    }
    let language = default_language.unwrap_or("english");
    if text_search_config(language).is_none() {
        bail!(CannotCreateIndex, "default_language: unsupported language: \"{language}\" for text index version 3");
    }
    Ok((
        bson::doc! { "_fts": "text", "_ftsx": 1 },
        all,
        language.to_owned(),
        language_override.unwrap_or("language").to_owned(),
    ))
}

impl TextIndex {
    /// The text index a stored spec describes, or `None` for other indexes.
    pub fn from_spec(spec: &RawDocument) -> Option<TextIndex> {
        let key = spec.get_document("key").ok()?;
        key.get_str("_fts").ok().filter(|k| *k == "text")?;
        let fields = spec
            .get_document("weights")
            .ok()?
            .iter()
            .flatten()
            .map(|(path, w)| {
                let weight = match w {
                    RawBsonRef::Int32(w) => i64::from(w),
                    RawBsonRef::Int64(w) => w,
                    RawBsonRef::Double(w) => w as i64,
                    _ => DEFAULT_WEIGHT,
                };
                (path.as_str().to_owned(), weight)
            })
            .collect();
        Some(TextIndex {
            fields,
            default_language: spec.get_str("default_language").unwrap_or("english").to_owned(),
            language_override: spec.get_str("language_override").unwrap_or("language").to_owned(),
        })
    }

    /// The distinct weights, heaviest first: PostgreSQL has four weight classes (A..D); a
    /// fifth and lighter weights share class D.
    fn weight_order(&self) -> Vec<i64> {
        let mut weights: Vec<i64> = self.fields.iter().map(|(_, w)| *w).collect();
        weights.sort_unstable_by(|a, b| b.cmp(a));
        weights.dedup();
        weights
    }

    /// The weight class (0 = A .. 3 = D) of a weight.
    fn class_of(&self, weight: i64) -> usize {
        self.weight_order().iter().position(|w| *w == weight).unwrap_or(3).min(3)
    }

    /// The classes this index uses, as PostgreSQL's letters.
    pub fn classes(&self) -> Vec<char> {
        let n = self.weight_order().len().clamp(1, 4);
        ['A', 'B', 'C', 'D'][..n].to_vec()
    }

    /// The rank weights for `ts_rank`, in PostgreSQL's order {D, C, B, A}: each class's
    /// weight relative to the heaviest.
    pub fn rank_weights(&self) -> [f32; 4] {
        let order = self.weight_order();
        let max = order.first().copied().unwrap_or(1).max(1) as f32;
        let mut out = [0.1_f32, 0.2, 0.4, 1.0];
        for (class, w) in order.iter().take(4).enumerate() {
            out[3 - class] = *w as f32 / max;
        }
        out
    }

    /// The strings of `doc` this index holds in weight class `class` ('A'..'D'), one per
    /// line: every string reached by a field's path (through arrays), or for `$**` every
    /// string of the document; diacritics folded (the index ignores them, as MongoDB's).
    pub fn content(&self, doc: &RawDocument, class: char) -> String {
        let class = (class as usize).saturating_sub('A' as usize);
        crate::text_search::fold_diacritics(&self.strings(doc, Some(class)))
    }

    /// Every string of `doc` the index holds, as written (for `$caseSensitive` /
    /// `$diacriticSensitive` rechecks).
    pub fn all_content(&self, doc: &RawDocument) -> String {
        self.strings(doc, None)
    }

    fn strings(&self, doc: &RawDocument, class: Option<usize>) -> String {
        let mut out = String::new();
        for (path, weight) in &self.fields {
            if class.is_some_and(|c| self.class_of(*weight) != c) {
                continue;
            }
            if path == "$**" {
                collect_all_strings(RawBsonRef::Document(doc), 0, &mut out);
            } else {
                for value in crate::index_bounds::multikey_terms(doc, path) {
                    if let RawBsonRef::String(s) = value {
                        out.push_str(s);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// The language a document is indexed in: its `language_override` field when it is a
    /// string, else the index's default; MongoDB's error 17262 for an unsupported one.
    pub fn config_of(&self, doc: &RawDocument) -> DocDbResult<&'static str> {
        let language = match doc.get(&self.language_override) {
            Ok(Some(RawBsonRef::String(l))) => l,
            _ => self.default_language.as_str(),
        };
        text_search_config(language).ok_or_else(|| {
            documentdb_errors::DocDbError::new(
                documentdb_errors::ErrorCode::new(17262),
                format!("language override unsupported: {language}"),
            )
        })
    }
}

fn collect_all_strings(value: RawBsonRef<'_>, depth: usize, out: &mut String) {
    if depth > crate::document::MAX_NESTING_FOR_TEXT {
        return;
    }
    match value {
        RawBsonRef::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        RawBsonRef::Document(d) => d.iter().flatten().for_each(|(_, v)| collect_all_strings(v, depth + 1, out)),
        RawBsonRef::Array(a) => a.into_iter().flatten().for_each(|v| collect_all_strings(v, depth + 1, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn text_index_content_by_weight_class() {
        let (key, weights, lang, over) =
            text_index_spec(&rawdoc! { "title": "text", "tags": "text" }, Some(&rawdoc! { "title": 10 }), None, None)
                .unwrap();
        let spec = bson::RawDocumentBuf::try_from(&bson::doc! {
            "key": key, "name": "t", "weights": weights, "default_language": lang, "language_override": over,
        })
        .unwrap();
        let index = TextIndex::from_spec(&spec).unwrap();
        assert_eq!(index.classes(), vec!['A', 'B']);
        assert_eq!(index.rank_weights(), [0.1, 0.2, 0.1, 1.0]);
        let doc = rawdoc! { "title": "Coffee shop", "tags": ["cake", 3, "tea"], "language": "fr" };
        assert_eq!(index.content(&doc, 'A'), "Coffee shop\n");
        assert_eq!(index.content(&doc, 'B'), "cake\ntea\n");
        assert_eq!(index.config_of(&doc).unwrap(), "french");
        assert_eq!(index.config_of(&rawdoc! { "language": "xx" }).unwrap_err().code.code(), 17262);
        assert!(text_index_spec(&rawdoc! { "a": 1, "b": "text" }, None, None, None).is_err());
        assert!(text_index_spec(&rawdoc! { "b": "text" }, None, Some("klingon"), None).is_err());
        let wildcard = TextIndex {
            fields: vec![("$**".into(), 1)],
            default_language: "english".into(),
            language_override: "language".into(),
        };
        assert_eq!(wildcard.content(&rawdoc! { "a": { "b": ["x", { "c": "y" }] }, "n": 1 }, 'A'), "x\ny\n");
    }
}
