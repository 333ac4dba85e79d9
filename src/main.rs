use clap::Parser;

/// mimalloc rather than glibc's malloc: see `keyward::allocator`.
#[global_allocator]
static ALLOCATOR: keyward::allocator::MiMalloc = keyward::allocator::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = keyward::cli::Cli::parse();
    match keyward::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyward: {e:#}");
            std::process::ExitCode::from(keyward::cli::exit_code(&e))
        }
    }
}
