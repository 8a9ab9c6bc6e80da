//! MongoDB's names of the BSON types (`typeName()` in the server, the strings `$type`
//! accepts and `{$type: "$x"}` returns): the one table every crate uses.
use bson::spec::ElementType;

/// Every type with its name and number, in the order of their numbers.
const TYPES: [(ElementType, &str); 21] = [
    (ElementType::MinKey, "minKey"),
    (ElementType::Double, "double"),
    (ElementType::String, "string"),
    (ElementType::EmbeddedDocument, "object"),
    (ElementType::Array, "array"),
    (ElementType::Binary, "binData"),
    (ElementType::Undefined, "undefined"),
    (ElementType::ObjectId, "objectId"),
    (ElementType::Boolean, "bool"),
    (ElementType::DateTime, "date"),
    (ElementType::Null, "null"),
    (ElementType::RegularExpression, "regex"),
    (ElementType::DbPointer, "dbPointer"),
    (ElementType::JavaScriptCode, "javascript"),
    (ElementType::Symbol, "symbol"),
    (ElementType::JavaScriptCodeWithScope, "javascriptWithScope"),
    (ElementType::Int32, "int"),
    (ElementType::Timestamp, "timestamp"),
    (ElementType::Int64, "long"),
    (ElementType::Decimal128, "decimal"),
    (ElementType::MaxKey, "maxKey"),
];

/// MongoDB's name of a BSON type, as error messages and `$type` print it.
pub fn type_name(t: ElementType) -> &'static str {
    match t {
        ElementType::Double => "double",
        ElementType::String => "string",
        ElementType::EmbeddedDocument => "object",
        ElementType::Array => "array",
        ElementType::Binary => "binData",
        ElementType::Undefined => "undefined",
        ElementType::ObjectId => "objectId",
        ElementType::Boolean => "bool",
        ElementType::DateTime => "date",
        ElementType::Null => "null",
        ElementType::RegularExpression => "regex",
        ElementType::DbPointer => "dbPointer",
        ElementType::JavaScriptCode => "javascript",
        ElementType::Symbol => "symbol",
        ElementType::JavaScriptCodeWithScope => "javascriptWithScope",
        ElementType::Int32 => "int",
        ElementType::Timestamp => "timestamp",
        ElementType::Int64 => "long",
        ElementType::Decimal128 => "decimal",
        ElementType::MinKey => "minKey",
        ElementType::MaxKey => "maxKey",
    }
}

/// The type a name stands for (`"long"` -> Int64); `None` for an unknown name.
pub fn type_from_name(name: &str) -> Option<ElementType> {
    TYPES.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
}

/// The type with a BSON type number (`18` -> Int64; MinKey is -1, MaxKey 127).
pub fn type_from_number(number: i32) -> Option<ElementType> {
    match number {
        -1 => Some(ElementType::MinKey),
        127 => Some(ElementType::MaxKey),
        n => u8::try_from(n)
            .ok()
            .and_then(ElementType::from)
            .filter(|t| !matches!(t, ElementType::MinKey | ElementType::MaxKey)),
    }
}

/// The BSON type number of a type (MinKey -1, MaxKey 127).
pub fn type_number(t: ElementType) -> i32 {
    match t {
        ElementType::MinKey => -1,
        ElementType::MaxKey => 127,
        other => i32::from(other as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip_for_every_type() {
        for (t, name) in TYPES {
            assert_eq!(type_name(t), name);
            assert_eq!(type_from_name(name), Some(t));
            assert_eq!(type_from_number(type_number(t)), Some(t), "{name}");
        }
        assert_eq!(type_number(ElementType::Int64), 18);
        assert_eq!(type_from_number(0), None);
        assert_eq!(type_from_number(255), None);
        assert_eq!(type_from_name("number"), None, "a $type alias, not a type");
    }
}
