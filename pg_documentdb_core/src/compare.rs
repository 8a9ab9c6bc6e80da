//! MongoDB's comparison order as SQL functions, backing the operators and opclasses.

use std::cmp::Ordering;

use documentdb_bson::{compare_documents, hash::hash_document};
use documentdb_pgbson::{BsonQueryRef, BsonRef};
use pgrx::prelude::*;

fn ordering_to_int(ordering: Ordering) -> i32 {
    match ordering {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

macro_rules! comparison_functions {
    ($ty:ident, $cmp:ident, $eq:ident, $ne:ident, $lt:ident, $le:ident, $gt:ident, $ge:ident) => {
        #[pg_extern(immutable, parallel_safe, strict)]
        fn $cmp(left: $ty<'_>, right: $ty<'_>) -> i32 {
            ordering_to_int(compare_documents(left.document(), right.document()))
        }
        #[pg_extern(immutable, parallel_safe, strict)]
        fn $eq(left: $ty<'_>, right: $ty<'_>) -> bool {
            // Byte-identical documents are equal without walking them.
            left.as_bytes() == right.as_bytes()
                || compare_documents(left.document(), right.document()) == Ordering::Equal
        }
        #[pg_extern(immutable, parallel_safe, strict)]
        fn $ne(left: $ty<'_>, right: $ty<'_>) -> bool {
            left.as_bytes() != right.as_bytes()
                && compare_documents(left.document(), right.document()) != Ordering::Equal
        }
        #[pg_extern(immutable, parallel_safe, strict)]
        fn $lt(left: $ty<'_>, right: $ty<'_>) -> bool {
            compare_documents(left.document(), right.document()) == Ordering::Less
        }
        #[pg_extern(immutable, parallel_safe, strict)]
        fn $le(left: $ty<'_>, right: $ty<'_>) -> bool {
            compare_documents(left.document(), right.document()) != Ordering::Greater
        }
        #[pg_extern(immutable, parallel_safe, strict)]
        fn $gt(left: $ty<'_>, right: $ty<'_>) -> bool {
            compare_documents(left.document(), right.document()) == Ordering::Greater
        }
        #[pg_extern(immutable, parallel_safe, strict)]
        fn $ge(left: $ty<'_>, right: $ty<'_>) -> bool {
            compare_documents(left.document(), right.document()) != Ordering::Less
        }
    };
}

comparison_functions!(BsonRef, bson_compare, bson_equal, bson_not_equal, bson_lt, bson_lte, bson_gt, bson_gte);
comparison_functions!(
    BsonQueryRef,
    bsonquery_compare,
    bsonquery_equal,
    bsonquery_not_equal,
    bsonquery_lt,
    bsonquery_lte,
    bsonquery_gt,
    bsonquery_gte
);

/// Hash for the hash opclass: equal under `=` (e.g. `{a: 1}` and `{a: 1.0}`) hash alike.
#[pg_extern(immutable, parallel_safe, strict)]
fn bson_hash_int4(doc: BsonRef<'_>) -> i32 {
    hash_document(doc.document(), 0) as i32
}

/// Extended (seeded) hash for the hash opclass, used by hash partitioning.
#[pg_extern(immutable, parallel_safe, strict)]
fn bson_hash_int8(doc: BsonRef<'_>, seed: i64) -> i64 {
    hash_document(doc.document(), seed as u64) as i64
}
