// Tens of thousands of visits allocate and free small objects on every request from two worker
// threads: mimalloc's per-thread free lists cost less CPU than the system allocator's, and give
// freed pages back instead of keeping them in per-thread arenas. Without transparent huge pages
// (`no_thp`): mimalloc would ask for them, and the kernel zeroes each 2 MiB page whole when it is
// first touched, which cost a third more RSS and about 5 % more CPU on ci.toml (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    surge::commands::main()
}
