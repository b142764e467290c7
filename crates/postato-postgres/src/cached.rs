//! The statements a publish runs, through each pooled connection's statement cache (deadpool's
//! `prepare_cached`): parsed and planned once per connection rather than once per run, and each
//! run one round trip instead of two (a prepare, then the run). A publish runs a dozen of them,
//! so this is most of what the database does per post.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// [`GenericClient`]'s runs, with the statement from the connection's cache.
pub(crate) trait Cached: GenericClient + Sync {
    async fn execute_cached(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let statement = self.prepare_cached(sql).await?;
        self.execute(&statement, params).await
    }

    async fn query_cached(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query(&statement, params).await
    }

    async fn query_opt_cached(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query_opt(&statement, params).await
    }

    async fn query_one_cached(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query_one(&statement, params).await
    }
}

impl<T: GenericClient + Sync> Cached for T {}
