//! The process is asked to stop: Ctrl-C or SIGTERM. `denwa serve` and `denwa demo` both wait on
//! it; what stopping means is theirs (see `startup::Application::run_until`).

/// Resolves on Ctrl-C or SIGTERM (what orchestrators send before killing a replica).
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
