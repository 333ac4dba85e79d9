use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = keyward::cli::Cli::parse();
    match keyward::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyward: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
