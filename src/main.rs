fn main() -> std::process::ExitCode {
    surge::commands::main()
}
