// Tens of thousands of visits allocate and free small objects on every request from two worker
// threads: mimalloc's per-thread free lists cost less CPU than the system allocator's, and give
// freed pages back instead of keeping them in per-thread arenas. Without transparent huge pages
// (`no_thp`): mimalloc would ask for them, and each 2 MiB page is zeroed whole when first touched and
// again after every purge, which cost a third more RSS and a few per cent more CPU on ci.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    surge::commands::main()
}
