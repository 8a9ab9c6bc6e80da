//! `createUser`, `dropUser`, `updateUser`, `usersInfo`, `connectionStatus`.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef};
use pgrx::prelude::*;

use crate::commands::users;
use crate::spi::with_spi;

#[pg_extern(sql = false)]
fn create_user(p_spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| users::create_user(p_spec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn drop_user(p_spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| users::drop_user(p_spec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn update_user(p_spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| users::update_user(p_spec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn users_info(p_spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| users::users_info(p_spec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn connection_status(p_spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| users::connection_status(p_spec.document())).map(Bson::from))
}
