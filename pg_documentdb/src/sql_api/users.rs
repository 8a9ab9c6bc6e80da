//! `createUser`, `dropUser`, `updateUser`, `usersInfo`, `connectionStatus`.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef};
use pgrx::prelude::*;

use crate::commands::users;
use crate::spi::with_spi;

/// Each entry point takes the command's spec document and returns its reply; the command
/// in `commands::users` has the entry point's name.
macro_rules! user_commands {
    ($($name:ident),+ $(,)?) => {$(
        #[pg_extern(sql = false)]
        fn $name(p_spec: BsonRef<'_>) -> Bson {
            docdb_guard(|| with_spi(|| users::$name(p_spec.document())).map(Bson::from))
        }
    )+};
}

user_commands!(create_user, drop_user, update_user, users_info, connection_status);
