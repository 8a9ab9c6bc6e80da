//! Datum wrappers for `documentdb_core.bson`, `bsonquery` and `bsonsequence`.
//!
//! All three are plain varlenas holding raw bytes. Arguments are borrowed (`BsonRef<'fcx>`
//! points into the detoasted datum, no copy); results are owned byte vectors copied once
//! into a palloc'd varlena.

use std::cell::Cell;

use bson::RawDocument;
use documentdb_errors::{DocDbError, ErrorCode};
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{FromDatum, IntoDatum};

use crate::error::throw;

/// Copies `bytes` into a freshly palloc'd varlena in the current memory context.
pub fn bytes_to_varlena_datum(bytes: &[u8]) -> pg_sys::Datum {
    let total = bytes.len() + pg_sys::VARHDRSZ;
    // SAFETY: we allocate `total` bytes, set a 4-byte varlena header of that size and copy
    // exactly `bytes.len()` bytes behind it.
    unsafe {
        let ptr = pg_sys::palloc(total) as *mut u8;
        pgrx::set_varsize_4b(ptr as *mut pg_sys::varlena, total as i32);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.add(pg_sys::VARHDRSZ), bytes.len());
        pg_sys::Datum::from(ptr)
    }
}

/// Borrows the bytes of a (possibly toasted or short-header) varlena datum.
///
/// # Safety
/// `datum` must be a non-null varlena datum; the result lives as long as the current
/// memory context (detoasting may palloc a copy there).
unsafe fn varlena_datum_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    unsafe {
        let ptr = datum.cast_mut_ptr::<pg_sys::varlena>();
        // Stored in line and uncompressed (a 4-byte or a short 1-byte header): read in
        // place, as pg_detoast_datum_packed would return it, without a guarded call into
        // PostgreSQL (several per row in every query: measured 2-3% of a `$group`).
        if pgrx::varlena::varatt_is_4b_u(ptr)
            || (pgrx::varlena::varatt_is_1b(ptr) && !pgrx::varlena::varatt_is_1b_e(ptr))
        {
            return pgrx::varlena::varlena_to_byte_slice(ptr);
        }
        let varlena = pg_sys::pg_detoast_datum_packed(ptr);
        pgrx::varlena::varlena_to_byte_slice(varlena)
    }
}

/// Per-backend cache of our type OIDs, reset by a syscache invalidation callback whenever
/// any pg_type row changes (so DROP/CREATE EXTENSION in one session stays correct).
struct TypeOidCache {
    registered: Cell<bool>,
    oids: [Cell<pg_sys::Oid>; 3],
}

thread_local! {
    static TYPE_OIDS: TypeOidCache = const {
        TypeOidCache {
            registered: Cell::new(false),
            oids: [
                Cell::new(pg_sys::InvalidOid),
                Cell::new(pg_sys::InvalidOid),
                Cell::new(pg_sys::InvalidOid),
            ],
        }
    };
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn invalidate_type_oids(_arg: pg_sys::Datum, _cache_id: i32, _hash_value: u32) {
    TYPE_OIDS.with(|cache| cache.oids.iter().for_each(|c| c.set(pg_sys::InvalidOid)));
}

fn cached_type_oid(slot: usize, qualified_name: &str) -> pg_sys::Oid {
    TYPE_OIDS.with(|cache| {
        if !cache.registered.get() {
            // SAFETY: registering a syscache callback with a static function is how
            // PostgreSQL extensions keep OID caches coherent.
            unsafe {
                pg_sys::CacheRegisterSyscacheCallback(
                    pg_sys::SysCacheIdentifier::TYPEOID as i32,
                    Some(invalidate_type_oids),
                    pg_sys::Datum::from(0),
                );
            }
            cache.registered.set(true);
        }
        let cached = cache.oids[slot].get();
        if cached != pg_sys::InvalidOid {
            return cached;
        }
        let oid = pgrx::regtypein(qualified_name);
        cache.oids[slot].set(oid);
        oid
    })
}

macro_rules! varlena_type {
    ($owned:ident, $borrowed:ident, $slot:expr, $sql:literal, $ident:literal) => {
        /// Borrowed view of a
        #[doc = $sql]
        /// datum's bytes (no copy).
        #[derive(Clone, Copy, Debug)]
        pub struct $borrowed<'a>(&'a [u8]);

        /// Owned
        #[doc = $sql]
        /// bytes, copied into a varlena when returned to PostgreSQL.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $owned(pub Vec<u8>);

        impl<'a> $borrowed<'a> {
            /// Wraps bytes that already hold a valid value of this type.
            pub fn from_trusted_bytes(bytes: &'a [u8]) -> Self {
                $borrowed(bytes)
            }
            pub fn as_bytes(&self) -> &'a [u8] {
                self.0
            }
            pub fn to_owned_value(&self) -> $owned {
                $owned(self.0.to_vec())
            }
        }

        impl $owned {
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
            pub fn as_ref_value(&self) -> $borrowed<'_> {
                $borrowed(&self.0)
            }
            pub fn type_oid() -> pg_sys::Oid {
                cached_type_oid($slot, $sql)
            }
        }

        impl<'a> FromDatum for $borrowed<'a> {
            unsafe fn from_polymorphic_datum(
                datum: pg_sys::Datum,
                is_null: bool,
                _typoid: pg_sys::Oid,
            ) -> Option<Self> {
                if is_null || datum.is_null() {
                    None
                } else {
                    // SAFETY: non-null varlena datum of our type.
                    Some($borrowed(unsafe { varlena_datum_bytes(datum) }))
                }
            }
        }

        impl FromDatum for $owned {
            unsafe fn from_polymorphic_datum(
                datum: pg_sys::Datum,
                is_null: bool,
                _typoid: pg_sys::Oid,
            ) -> Option<Self> {
                if is_null || datum.is_null() {
                    None
                } else {
                    // SAFETY: non-null varlena datum of our type.
                    Some($owned(unsafe { varlena_datum_bytes(datum) }.to_vec()))
                }
            }
        }

        impl IntoDatum for $owned {
            fn into_datum(self) -> Option<pg_sys::Datum> {
                Some(bytes_to_varlena_datum(&self.0))
            }
            fn type_oid() -> pg_sys::Oid {
                cached_type_oid($slot, $sql)
            }
        }

        impl<'a> IntoDatum for $borrowed<'a> {
            fn into_datum(self) -> Option<pg_sys::Datum> {
                Some(bytes_to_varlena_datum(self.0))
            }
            fn type_oid() -> pg_sys::Oid {
                cached_type_oid($slot, $sql)
            }
        }

        unsafe impl<'fcx> ArgAbi<'fcx> for $borrowed<'fcx> {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                unsafe { arg.unbox_arg_using_from_datum() }
                    .unwrap_or_else(|| panic!("argument {index} must not be null"))
            }
            unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
                unsafe { arg.unbox_arg_using_from_datum() }.into()
            }
        }

        unsafe impl<'fcx> ArgAbi<'fcx> for $owned {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                unsafe { arg.unbox_arg_using_from_datum() }
                    .unwrap_or_else(|| panic!("argument {index} must not be null"))
            }
            unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
                unsafe { arg.unbox_arg_using_from_datum() }.into()
            }
        }

        unsafe impl BoxRet for $owned {
            unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
                unsafe { fcinfo.return_raw_datum(bytes_to_varlena_datum(&self.0)) }
            }
        }

        unsafe impl<'a> SqlTranslatable for $borrowed<'a> {
            const TYPE_IDENT: &'static str = $ident;
            const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal($sql)));
        }

        unsafe impl SqlTranslatable for $owned {
            const TYPE_IDENT: &'static str = $ident;
            const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal($sql)));
        }
    };
}

varlena_type!(Bson, BsonRef, 0, "documentdb_core.bson", "documentdb_pgbson::Bson");
varlena_type!(BsonQuery, BsonQueryRef, 1, "documentdb_core.bsonquery", "documentdb_pgbson::BsonQuery");
varlena_type!(BsonSequence, BsonSequenceRef, 2, "documentdb_core.bsonsequence", "documentdb_pgbson::BsonSequence");

fn document_of(bytes: &[u8]) -> &RawDocument {
    // Every bson datum was validated when it was created (input functions, recv, casts),
    // so this only re-checks the length header; a failure means on-disk corruption.
    RawDocument::from_bytes(bytes)
        .unwrap_or_else(|e| throw(DocDbError::new(ErrorCode::InvalidBSON, format!("corrupt bson datum: {e}"))))
}

impl<'a> BsonRef<'a> {
    pub fn document(&self) -> &'a RawDocument {
        document_of(self.0)
    }
}

impl<'a> BsonQueryRef<'a> {
    pub fn document(&self) -> &'a RawDocument {
        document_of(self.0)
    }
}

impl Bson {
    pub fn document(&self) -> &RawDocument {
        document_of(&self.0)
    }
    pub fn from_document(doc: bson::RawDocumentBuf) -> Bson {
        Bson(doc.into_bytes())
    }
}

impl From<bson::RawDocumentBuf> for Bson {
    fn from(doc: bson::RawDocumentBuf) -> Bson {
        Bson(doc.into_bytes())
    }
}

impl<'a> BsonSequenceRef<'a> {
    /// Iterates the documents of the sequence. Sequences are validated on creation.
    pub fn documents(&self) -> impl Iterator<Item = &'a RawDocument> + 'a {
        SequenceIter { rest: self.0 }
    }
}

struct SequenceIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SequenceIter<'a> {
    type Item = &'a RawDocument;
    fn next(&mut self) -> Option<&'a RawDocument> {
        if self.rest.len() < 4 {
            return None;
        }
        let len = i32::from_le_bytes([self.rest[0], self.rest[1], self.rest[2], self.rest[3]]);
        let len = usize::try_from(len).ok().filter(|l| *l >= 5 && *l <= self.rest.len())?;
        let (doc, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(document_of(doc))
    }
}
