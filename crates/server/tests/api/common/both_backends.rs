// The `both_backends!` macro of the API and security suites, `include!`d by each
// suite's main.rs (a macro must be defined before the modules that use it).

/// Generates `mod sqlite` and `mod postgres` with one `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` per named test.
/// PostgreSQL tests fail when the database is unreachable, unless
/// `OPENCLAW_FLEET_SKIP_POSTGRES=1` is set.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::common::skip_postgres() {
                        return;
                    }
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )+
        }
    };
}
