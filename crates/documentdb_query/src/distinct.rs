//! The values `distinct` collects from one document at a dotted path (MongoDB's
//! `distinct` semantics): arrays of documents on the way are traversed, a numeric
//! component indexes an array, and an array found at the end of the path contributes its
//! elements (unwound one level), not itself.
use bson::{RawBsonRef, RawDocument};

/// The values at `path` in `doc`, in document order, borrowed from it.
pub fn values_at<'a>(doc: &'a RawDocument, path: &str) -> Vec<RawBsonRef<'a>> {
    let mut out = Vec::new();
    collect_in_document(doc, path, &mut out);
    out
}

fn collect_in_document<'a>(doc: &'a RawDocument, path: &str, out: &mut Vec<RawBsonRef<'a>>) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    if let Ok(Some(value)) = doc.get(head) {
        collect_in_value(value, rest, out);
    }
}

fn collect_in_value<'a>(value: RawBsonRef<'a>, rest: Option<&str>, out: &mut Vec<RawBsonRef<'a>>) {
    match (value, rest) {
        (RawBsonRef::Array(items), None) => out.extend(items.into_iter().flatten()),
        (value, None) => out.push(value),
        (RawBsonRef::Document(sub), Some(rest)) => collect_in_document(sub, rest, out),
        (RawBsonRef::Array(items), Some(rest)) => {
            let (head, tail) = match rest.split_once('.') {
                Some((h, t)) => (h, Some(t)),
                None => (rest, None),
            };
            if let Ok(index) = head.parse::<usize>() {
                if let Some(Ok(item)) = items.into_iter().nth(index) {
                    collect_in_value(item, tail, out);
                }
                return;
            }
            for item in items.into_iter().flatten() {
                if let RawBsonRef::Document(sub) = item {
                    collect_in_document(sub, rest, out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{rawdoc, RawBson};

    fn values(doc: &bson::RawDocumentBuf, path: &str) -> Vec<RawBson> {
        values_at(doc, path).into_iter().map(RawBson::from).collect()
    }

    #[test]
    fn a_scalar_is_one_value_and_a_missing_path_none() {
        let doc = rawdoc! { "a": 1, "b": { "c": "x" } };
        assert_eq!(values(&doc, "a"), vec![RawBson::Int32(1)]);
        assert_eq!(values(&doc, "b.c"), vec![RawBson::String("x".into())]);
        assert!(values(&doc, "z").is_empty());
        assert!(values(&doc, "a.b").is_empty());
    }

    #[test]
    fn an_array_at_the_end_is_unwound_one_level() {
        // MongoDB's distinct: {a: [1, [2, 3]]} gives 1 and [2, 3].
        let doc = rawdoc! { "a": [1, [2, 3]] };
        let got = values(&doc, "a");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], RawBson::Int32(1));
        assert!(matches!(got[1], RawBson::Array(_)));
    }

    #[test]
    fn arrays_of_documents_are_traversed_and_numeric_components_index() {
        let doc = rawdoc! { "a": [{ "b": 1 }, { "b": [2, 3] }, 7, { "c": 4 }] };
        assert_eq!(values(&doc, "a.b"), vec![RawBson::Int32(1), RawBson::Int32(2), RawBson::Int32(3)]);
        assert_eq!(values(&doc, "a.1.b"), vec![RawBson::Int32(2), RawBson::Int32(3)]);
        assert_eq!(values(&doc, "a.2"), vec![RawBson::Int32(7)]);
        assert!(values(&doc, "a.9").is_empty());
    }
}
