//! `$fill`: fills null and missing fields, a stage MongoDB defines as other stages
//! (`document_source_fill.cpp`):
//! * the outputs with a `method` become one `$setWindowFields` stage whose output is
//!   `{<field>: {$locf: "$<field>"}}` (`method: "locf"`) or `{<field>: {$linearFill:
//!   "$<field>"}}` (`method: "linear"`), with the `$fill`'s `sortBy` and its `partitionBy`
//!   (or `partitionByFields` as the expression `{<f>: "$<f>", ...}`);
//! * the outputs with a `value` become one `$addFields` stage that follows, `{<field>:
//!   {$ifNull: ["$<field>", <value>]}}`;
//! * with MongoDB's validation: the IDL's (40413 duplicate, 40414 missing, 40415 unknown
//!   field, 14 wrong type), 6050200 to 6050204, and `$linearFill`'s need of a `sortBy` on
//!   exactly one field (605001, which MongoDB raises when it parses the generated
//!   `$setWindowFields`). `$locf` needs no `sortBy` (MongoDB accepts `{$fill: {output:
//!   {v: {method: "locf"}}}}`).

use crate::spec_error::{invalid_bson, loc, raw_type_name, string_array, wrong_type};
use bson::{RawArrayBuf, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

fn cstr(name: &str) -> DocDbResult<&bson::raw::CStr> {
    name.try_into().map_err(|_| loc(16411, "FieldPath field names may not contain '\\0'."))
}

/// The stages a `$fill` stands for: `$setWindowFields` (when an output has a `method`)
/// then `$addFields` (when one has a `value`), each a `{$stage: spec}` document. Outputs
/// with neither give no stage.
pub fn fill_stages(spec: RawBsonRef<'_>) -> DocDbResult<Vec<RawDocumentBuf>> {
    let RawBsonRef::Document(spec) = spec else {
        return Err(DocDbError::new(
            ErrorCode::FailedToParse,
            format!("The $fill stage specification must be an object, found {}", raw_type_name(spec)),
        ));
    };
    let (mut sort_by, mut partition_by_fields, mut partition_by, mut output) = (None, None, None, None);
    for element in spec {
        let (key, value) = element.map_err(invalid_bson)?;
        let seen = match key.as_str() {
            "sortBy" => sort_by.is_some(),
            "partitionByFields" => partition_by_fields.is_some(),
            "partitionBy" => partition_by.is_some(),
            "output" => output.is_some(),
            other => return Err(loc(40415, format!("BSON field '$fill.{other}' is an unknown field."))),
        };
        if seen {
            return Err(loc(40413, format!("BSON field '$fill.{}' is a duplicate field", key.as_str())));
        }
        match key.as_str() {
            "sortBy" => match value {
                RawBsonRef::Document(d) => sort_by = Some(d),
                other => return Err(wrong_type("$fill.sortBy", other, "type 'object'")),
            },
            "partitionByFields" => partition_by_fields = Some(string_array("$fill.partitionByFields", value)?),
            "partitionBy" => match value {
                RawBsonRef::Document(_) | RawBsonRef::String(_) => partition_by = Some(value),
                other => return Err(wrong_type("$fill.partitionBy", other, "types '[object, string]'")),
            },
            _ => match value {
                RawBsonRef::Document(d) => output = Some(d),
                other => return Err(wrong_type("$fill.output", other, "type 'object'")),
            },
        }
    }
    let output = output.ok_or_else(|| loc(40414, "BSON field '$fill.output' is missing but a required field"))?;
    if output.is_empty() {
        return Err(loc(6050203, "The output field in '$fill' must contain an object with at least one element"));
    }

    let mut window_output = RawDocumentBuf::new();
    let mut add_fields = RawDocumentBuf::new();
    let mut linear = false;
    for element in output {
        let (field, field_spec) = element.map_err(invalid_bson)?;
        let RawBsonRef::Document(field_spec) = field_spec else {
            return Err(loc(6050200, "Each fill output specification must be an object with exactly one field"));
        };
        let (method, value) = parse_output_spec(field_spec)?;
        let path = format!("${}", field.as_str());
        if let Some(method) = method {
            if value.is_some() {
                return Err(loc(
                    6050201,
                    "Each fill output specification must have exactly one of 'method' or 'value' fields, not both",
                ));
            }
            let operator = match method {
                "locf" => "$locf",
                "linear" => {
                    linear = true;
                    "$linearFill"
                }
                _ => return Err(loc(6050202, "Method must be either locf or linear")),
            };
            let mut call = RawDocumentBuf::new();
            call.append(cstr(operator)?, path.as_str());
            window_output.append(field, call);
        }
        if let Some(value) = value {
            let mut if_null = RawArrayBuf::new();
            if_null.push(path.as_str());
            if_null.push(value);
            let mut expr = RawDocumentBuf::new();
            expr.append(cstr("$ifNull")?, if_null);
            add_fields.append(field, expr);
        }
    }

    let mut window_spec = RawDocumentBuf::new();
    window_spec.append(cstr("output")?, window_output.clone());
    if let Some(sort_by) = sort_by {
        window_spec.append(cstr("sortBy")?, sort_by.to_owned());
    }
    if let Some(partition_by) = partition_by {
        if partition_by_fields.is_some() {
            return Err(loc(
                6050204,
                "Maximum one of 'partitionBy' and 'partitionByFields can be specified in '$fill'",
            ));
        }
        window_spec.append(cstr("partitionBy")?, RawBson::from(partition_by));
    }
    if let Some(fields) = &partition_by_fields {
        let mut partition = RawDocumentBuf::new();
        for f in fields {
            partition.append(cstr(f)?, format!("${f}"));
        }
        window_spec.append(cstr("partitionBy")?, partition);
    }
    if linear && sort_by.is_none_or(|s| s.iter().count() != 1) {
        return Err(loc(
            605001,
            "$linearFill must be specified with a top level sortBy expression with exactly one element",
        ));
    }

    let mut stages = Vec::new();
    if !window_output.is_empty() {
        let mut stage = RawDocumentBuf::new();
        stage.append(cstr("$setWindowFields")?, window_spec);
        stages.push(stage);
    }
    if !add_fields.is_empty() {
        let mut stage = RawDocumentBuf::new();
        stage.append(cstr("$addFields")?, add_fields);
        stages.push(stage);
    }
    Ok(stages)
}

/// One output field's `{method: <string>}` or `{value: <expression>}` (the IDL's
/// `FillOutputSpec`, strict).
fn parse_output_spec(spec: &RawDocument) -> DocDbResult<(Option<&str>, Option<RawBson>)> {
    let (mut method, mut value) = (None, None);
    for element in spec {
        let (key, v) = element.map_err(invalid_bson)?;
        match key.as_str() {
            "method" => {
                if method.is_some() {
                    return Err(loc(40413, "BSON field '$fill.method' is a duplicate field"));
                }
                match v {
                    RawBsonRef::String(s) => method = Some(s),
                    other => return Err(wrong_type("$fill.method", other, "type 'string'")),
                }
            }
            "value" => {
                if value.is_some() {
                    return Err(loc(40413, "BSON field '$fill.value' is a duplicate field"));
                }
                value = Some(RawBson::from(v));
            }
            other => return Err(loc(40415, format!("BSON field '$fill.{other}' is an unknown field."))),
        }
    }
    Ok((method, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc, Document};

    fn code(r: DocDbResult<impl Sized>) -> i32 {
        r.err().map_or(0, |e| e.code.code())
    }

    fn stages(spec: RawDocumentBuf) -> Vec<Document> {
        fill_stages(RawBsonRef::Document(&spec))
            .unwrap()
            .iter()
            .map(|s| Document::try_from(s.as_ref()).unwrap())
            .collect()
    }

    fn fill_code(spec: RawDocumentBuf) -> i32 {
        code(fill_stages(RawBsonRef::Document(&spec)))
    }

    /// MongoDB's desugaring tests (jstests/aggregation/sources/fill/fill_parse.js), with
    /// `$setWindowFields` as the stage the user would write.
    #[test]
    fn desugars_as_mongodb() {
        assert_eq!(
            stages(rawdoc! { "output": { "val": { "method": "locf" } } }),
            vec![doc! { "$setWindowFields": { "output": { "val": { "$locf": "$val" } } } }]
        );
        assert_eq!(
            stages(rawdoc! { "sortBy": { "key": 1 }, "output": { "val": { "method": "linear" } } }),
            vec![
                doc! { "$setWindowFields": { "output": { "val": { "$linearFill": "$val" } }, "sortBy": { "key": 1 } } }
            ]
        );
        assert_eq!(
            stages(rawdoc! { "output": { "val": { "value": 5 } } }),
            vec![doc! { "$addFields": { "val": { "$ifNull": ["$val", 5] } } }]
        );
        assert_eq!(
            stages(rawdoc! { "output": { "val": { "value": "$test" }, "second": { "method": "locf" } } }),
            vec![
                doc! { "$setWindowFields": { "output": { "second": { "$locf": "$second" } } } },
                doc! { "$addFields": { "val": { "$ifNull": ["$val", "$test"] } } },
            ]
        );
        assert_eq!(
            stages(rawdoc! { "output": {
                "val": { "value": "$test" }, "second": { "method": "locf" },
                "third": { "value": { "$add": ["$val", "$second"] } }, "fourth": { "method": "locf" },
            } }),
            vec![
                doc! { "$setWindowFields": { "output": {
                "second": { "$locf": "$second" }, "fourth": { "$locf": "$fourth" } } } },
                doc! { "$addFields": {
                "val": { "$ifNull": ["$val", "$test"] },
                "third": { "$ifNull": ["$third", { "$add": ["$val", "$second"] }] } } },
            ]
        );
        assert_eq!(
            stages(rawdoc! { "output": { "val": { "method": "locf" } }, "partitionByFields": ["part", "partTwo"] }),
            vec![doc! { "$setWindowFields": {
            "output": { "val": { "$locf": "$val" } },
            "partitionBy": { "part": "$part", "partTwo": "$partTwo" } } }]
        );
        assert_eq!(
            stages(
                rawdoc! { "output": { "val": { "method": "locf" }, "second": { "value": 7 } }, "sortBy": { "key": 1 },
                "partitionBy": { "part": "$part", "partTwo": "$partTwo" } }
            ),
            vec![
                doc! { "$setWindowFields": {
                "output": { "val": { "$locf": "$val" } }, "sortBy": { "key": 1 },
                "partitionBy": { "part": "$part", "partTwo": "$partTwo" } } },
                doc! { "$addFields": { "second": { "$ifNull": ["$second", 7] } } },
            ]
        );
        assert_eq!(
            stages(rawdoc! { "output": { "v": { "method": "locf" } }, "sortBy": { "t": 1 }, "partitionBy": "$p" }),
            vec![doc! { "$setWindowFields": {
            "output": { "v": { "$locf": "$v" } }, "sortBy": { "t": 1 }, "partitionBy": "$p" } }]
        );
    }

    /// Manual ($fill): the constant-value example (dailySales) and the linear / locf ones.
    #[test]
    fn manual_examples() {
        assert_eq!(
            stages(rawdoc! { "output": {
            "bootsSold": { "value": 0 }, "sandalsSold": { "value": 0 }, "sneakersSold": { "value": 0 } } }),
            vec![doc! { "$addFields": {
            "bootsSold": { "$ifNull": ["$bootsSold", 0] },
            "sandalsSold": { "$ifNull": ["$sandalsSold", 0] },
            "sneakersSold": { "$ifNull": ["$sneakersSold", 0] } } }]
        );
        assert_eq!(
            stages(rawdoc! { "sortBy": { "time": 1 }, "output": { "price": { "method": "linear" } } }),
            vec![doc! { "$setWindowFields": {
            "output": { "price": { "$linearFill": "$price" } }, "sortBy": { "time": 1 } } }]
        );
        assert_eq!(
            stages(rawdoc! { "sortBy": { "date": 1 }, "output": { "score": { "method": "locf" } } }),
            vec![doc! { "$setWindowFields": {
            "output": { "score": { "$locf": "$score" } }, "sortBy": { "date": 1 } } }]
        );
    }

    /// The errors of fill_parse.js, and the IDL's.
    #[test]
    fn errors() {
        assert_eq!(code(fill_stages(RawBsonRef::String("test"))), 9);
        assert_eq!(fill_code(rawdoc! {}), 40414);
        assert_eq!(fill_code(rawdoc! { "output": {} }), 6050203);
        assert_eq!(fill_code(rawdoc! { "output": { "test": { "method": "random" } } }), 6050202);
        assert_eq!(fill_code(rawdoc! { "output": { "test": "random" } }), 6050200);
        assert_eq!(fill_code(rawdoc! { "output": { "test": { "method": "locf", "second": "locf" } } }), 40415);
        assert_eq!(
            fill_code(rawdoc! { "output": { "test": { "method": "locf" } }, "partitionBy": { "test": "$test" },
            "partitionByFields": ["$test"] }),
            6050204
        );
        assert_eq!(
            fill_code(rawdoc! { "output": { "test": { "method": "linear" } },
            "partitionBy": { "part": "$part", "partTwo": "$partTwo" } }),
            605001
        );
        assert_eq!(
            fill_code(rawdoc! { "output": { "test": { "method": "linear" } }, "sortBy": { "a": 1, "b": 1 } }),
            605001
        );
        assert_eq!(fill_code(rawdoc! { "output": { "test": { "method": "locf", "value": 1 } } }), 6050201);
        assert_eq!(fill_code(rawdoc! { "output": { "test": { "method": 1 } } }), 14);
        assert_eq!(fill_code(rawdoc! { "output": 1 }), 14);
        assert_eq!(fill_code(rawdoc! { "output": { "t": { "value": 1 } }, "sortBy": 1 }), 14);
        assert_eq!(fill_code(rawdoc! { "output": { "t": { "value": 1 } }, "partitionBy": 1 }), 14);
        assert_eq!(fill_code(rawdoc! { "output": { "t": { "value": 1 } }, "partitionByFields": [1] }), 14);
        assert_eq!(fill_code(rawdoc! { "output": { "t": { "value": 1 } }, "x": 1 }), 40415);
        // An output with neither method nor value adds nothing.
        assert_eq!(stages(rawdoc! { "output": { "t": {} } }), Vec::<Document>::new());
    }
}
