//! `$densify`: the documents in partition and field order, each with the next document's
//! value and its partition's and the input's smallest and largest values (window
//! functions), and a set-returning function emitting the document and the documents
//! MongoDB generates around it (`documentdb_query::densify`: the step grid, calendar units,
//! bounds `full` / `partition` / `[lower, upper]`). Documents without a value pass through.

use bson::{rawdoc, RawBsonRef};
use documentdb_errors::DocDbResult;

use super::{Level, Pipeline};
use crate::sql_names;

impl Pipeline {
    pub(super) fn add_densify(&mut self, value: RawBsonRef<'_>) -> DocDbResult<()> {
        let parsed = documentdb_query::densify::parse(value, &self.b.ctx()?)?;
        let whole_range_without_documents =
            matches!(parsed.bounds(), documentdb_query::densify::DensifyBounds::Explicit(_))
                && parsed.partition_by_fields().is_empty();
        let spec = self.bson_param(rawdoc! { "spec": bson::RawBson::from(value) }.into_bytes());
        let inner = self.level_sql_without_score();
        self.depth += 1;
        let d = self.depth;
        let keyed = format!(
            "SELECT document, {}(document, {spec}) AS pk, {}(document, {spec}) AS v FROM ({inner}) i{d}",
            sql_names::DENSIFY_PARTITION,
            sql_names::DENSIFY_VALUE
        );
        let all = "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING";
        let windowed = format!(
            "SELECT document, pk, v, lead(v) OVER w AS next_v, \
             (v IS NOT NULL AND lag(v) OVER w IS NULL) AS first_in_partition, \
             first_value(v) OVER (PARTITION BY pk ORDER BY v ASC NULLS LAST {all}) AS pmin, \
             first_value(v) OVER (PARTITION BY pk ORDER BY v DESC NULLS LAST {all}) AS pmax, \
             first_value(v) OVER (ORDER BY v ASC NULLS LAST {all}) AS gmin, \
             first_value(v) OVER (ORDER BY v DESC NULLS LAST {all}) AS gmax \
             FROM keyed{d} WINDOW w AS (PARTITION BY pk ORDER BY v ASC NULLS FIRST)"
        );
        let generated = format!(
            "SELECT w.pk, g.document FROM ({windowed}) w CROSS JOIN LATERAL \
             {}(w.document, w.pk, w.v, w.next_v, w.first_in_partition, w.pmin, w.pmax, w.gmin, w.gmax, {spec}) g(document)",
            sql_names::DENSIFY_GENERATE
        );
        let body = if whole_range_without_documents {
            // No document with a value: MongoDB still generates the whole explicit range.
            format!(
                "{generated} UNION ALL SELECT '{{}}'::documentdb_core.bson, e.document FROM {}({spec}) e(document) \
                 WHERE NOT EXISTS (SELECT 1 FROM keyed{d} WHERE v IS NOT NULL)",
                sql_names::DENSIFY_WITHOUT_DOCUMENTS
            )
        } else {
            generated
        };
        let output = format!(
            "WITH keyed{d} AS MATERIALIZED ({keyed}) SELECT document, pk, {}(document, {spec}) AS out_v FROM ({body}) b{d}",
            sql_names::DENSIFY_VALUE
        );
        self.level = Level::over(format!("({output}) s{d}"));
        let order = vec![(format!("s{d}.pk"), true), (format!("s{d}.out_v"), true)];
        self.level.order = Some(format!("s{d}.pk ASC, s{d}.out_v ASC NULLS FIRST"));
        self.level.order_keys = order;
        self.collection = None;
        Ok(())
    }
}
