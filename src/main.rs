//! The `profochat-saas` binary: parse the command line, run, exit with a documented code.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
