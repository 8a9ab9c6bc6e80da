//! The operator table: every aggregation expression operator by name, with its parse
//! function. The operators themselves live in the `ops_*` modules by family.
use bson::Bson;
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::{ops_arith, ops_array, ops_date, ops_logic, ops_object, ops_string, ops_vars};
use super::{Node, ParseCtx};

/// Parse function of an operator: `(name, argument, ctx)`.
pub(crate) type ParseFn = fn(&'static str, &Bson, &mut ParseCtx<'_>) -> DocDbResult<Node>;

/// Operator name -> parser. Sorted by name (binary search; checked by a test).
pub(crate) static OPERATORS: &[(&str, ParseFn)] = &[
    ("$abs", ops_arith::parse_abs),
    ("$add", ops_arith::parse_add),
    ("$allElementsTrue", ops_array::parse_all_elements_true),
    ("$and", ops_logic::parse_and),
    ("$anyElementTrue", ops_array::parse_any_element_true),
    ("$arrayElemAt", ops_array::parse_array_elem_at),
    ("$arrayToObject", ops_object::parse_array_to_object),
    ("$avg", ops_array::parse_acc_expr),
    ("$binarySize", ops_string::parse_binary_size),
    ("$bsonSize", ops_object::parse_bson_size),
    ("$ceil", ops_arith::parse_ceil),
    ("$cmp", ops_logic::parse_cmp),
    ("$concat", ops_string::parse_concat),
    ("$concatArrays", ops_array::parse_concat_arrays),
    ("$cond", ops_logic::parse_cond),
    ("$const", ops_vars::parse_literal),
    ("$convert", ops_object::parse_convert),
    ("$dateAdd", ops_date::parse_date_add),
    ("$dateDiff", ops_date::parse_date_diff),
    ("$dateFromParts", ops_date::parse_date_from_parts),
    ("$dateFromString", ops_date::parse_date_from_string),
    ("$dateSubtract", ops_date::parse_date_add),
    ("$dateToParts", ops_date::parse_date_to_parts),
    ("$dateToString", ops_date::parse_date_to_string),
    ("$dateTrunc", ops_date::parse_date_trunc),
    ("$dayOfMonth", ops_date::parse_date_part),
    ("$dayOfWeek", ops_date::parse_date_part),
    ("$dayOfYear", ops_date::parse_date_part),
    ("$divide", ops_arith::parse_divide),
    ("$eq", ops_logic::parse_cmp),
    ("$exp", ops_arith::parse_exp),
    ("$filter", ops_vars::parse_filter),
    ("$first", ops_array::parse_first),
    ("$firstN", ops_array::parse_n_expr),
    ("$floor", ops_arith::parse_floor),
    ("$getField", ops_object::parse_get_field),
    ("$gt", ops_logic::parse_cmp),
    ("$gte", ops_logic::parse_cmp),
    ("$hour", ops_date::parse_date_part),
    ("$ifNull", ops_logic::parse_if_null),
    ("$in", ops_array::parse_in),
    ("$indexOfArray", ops_array::parse_index_of_array),
    ("$indexOfBytes", ops_string::parse_index_of_bytes),
    ("$indexOfCP", ops_string::parse_index_of_cp),
    ("$isArray", ops_array::parse_is_array),
    ("$isNumber", ops_object::parse_is_number),
    ("$isoDayOfWeek", ops_date::parse_date_part),
    ("$isoWeek", ops_date::parse_date_part),
    ("$isoWeekYear", ops_date::parse_date_part),
    ("$last", ops_array::parse_last),
    ("$lastN", ops_array::parse_n_expr),
    ("$let", ops_vars::parse_let),
    ("$literal", ops_vars::parse_literal),
    ("$ln", ops_arith::parse_ln),
    ("$log", ops_arith::parse_log),
    ("$log10", ops_arith::parse_log10),
    ("$lt", ops_logic::parse_cmp),
    ("$lte", ops_logic::parse_cmp),
    ("$ltrim", ops_string::parse_trim),
    ("$map", ops_vars::parse_map),
    ("$max", ops_array::parse_acc_expr),
    ("$maxN", ops_array::parse_n_expr),
    ("$mergeObjects", ops_array::parse_acc_expr),
    ("$millisecond", ops_date::parse_date_part),
    ("$min", ops_array::parse_acc_expr),
    ("$minN", ops_array::parse_n_expr),
    ("$minute", ops_date::parse_date_part),
    ("$mod", ops_arith::parse_mod),
    ("$month", ops_date::parse_date_part),
    ("$multiply", ops_arith::parse_multiply),
    ("$ne", ops_logic::parse_cmp),
    ("$not", ops_logic::parse_not),
    ("$objectToArray", ops_object::parse_object_to_array),
    ("$or", ops_logic::parse_or),
    ("$pow", ops_arith::parse_pow),
    ("$rand", ops_arith::parse_rand),
    ("$range", ops_array::parse_range),
    ("$reduce", ops_vars::parse_reduce),
    ("$regexFind", ops_string::parse_regex),
    ("$regexFindAll", ops_string::parse_regex),
    ("$regexMatch", ops_string::parse_regex),
    ("$replaceAll", ops_string::parse_replace),
    ("$replaceOne", ops_string::parse_replace),
    ("$reverseArray", ops_array::parse_reverse_array),
    ("$round", ops_arith::parse_round),
    ("$rtrim", ops_string::parse_trim),
    ("$second", ops_date::parse_date_part),
    ("$setDifference", ops_array::parse_set_difference),
    ("$setEquals", ops_array::parse_set_equals),
    ("$setField", ops_object::parse_set_field),
    ("$setIntersection", ops_array::parse_set_intersection),
    ("$setIsSubset", ops_array::parse_set_is_subset),
    ("$setUnion", ops_array::parse_set_union),
    ("$size", ops_array::parse_size),
    ("$slice", ops_array::parse_slice),
    ("$sortArray", ops_array::parse_sort_array),
    ("$split", ops_string::parse_split),
    ("$sqrt", ops_arith::parse_sqrt),
    ("$stdDevPop", ops_array::parse_acc_expr),
    ("$stdDevSamp", ops_array::parse_acc_expr),
    ("$strLenBytes", ops_string::parse_str_len_bytes),
    ("$strLenCP", ops_string::parse_str_len_cp),
    ("$strcasecmp", ops_string::parse_strcasecmp),
    ("$substr", ops_string::parse_substr_bytes),
    ("$substrBytes", ops_string::parse_substr_bytes),
    ("$substrCP", ops_string::parse_substr_cp),
    ("$subtract", ops_arith::parse_subtract),
    ("$sum", ops_array::parse_acc_expr),
    ("$switch", ops_logic::parse_switch),
    ("$toBool", ops_object::parse_to_type),
    ("$toDate", ops_object::parse_to_type),
    ("$toDecimal", ops_object::parse_to_type),
    ("$toDouble", ops_object::parse_to_type),
    ("$toInt", ops_object::parse_to_type),
    ("$toLong", ops_object::parse_to_type),
    ("$toLower", ops_string::parse_to_lower),
    ("$toObjectId", ops_object::parse_to_type),
    ("$toString", ops_object::parse_to_type),
    ("$toUpper", ops_string::parse_to_upper),
    ("$trim", ops_string::parse_trim),
    ("$trunc", ops_arith::parse_trunc),
    ("$type", ops_object::parse_type),
    ("$unsetField", ops_object::parse_set_field),
    ("$week", ops_date::parse_date_part),
    ("$year", ops_date::parse_date_part),
    ("$zip", ops_array::parse_zip),
];

/// Dispatches `{name: arg}` to the operator's parser.
pub(crate) fn parse_operator(name: &str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    match OPERATORS.binary_search_by(|(n, _)| (*n).cmp(name)) {
        Ok(i) => {
            let (static_name, parse) = OPERATORS[i];
            parse(static_name, arg, ctx)
        }
        Err(_) => Err(DocDbError::new(ErrorCode::InvalidPipelineOperator, format!("Unrecognized expression '{name}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::OPERATORS;

    #[test]
    fn the_table_is_sorted_by_name() {
        for pair in OPERATORS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
    }
}
