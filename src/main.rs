// Tens of thousands of visits allocate and free small objects on every request from two worker
// threads: mimalloc's per-thread free lists cost less CPU than the system allocator's, and give
// freed pages back instead of keeping them in per-thread arenas. Its transparent huge pages stay on:
// without them (`no_thp`) a short run peaks a third lower, but the first morning spends 7 % more CPU
// and at 120× it fell behind (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    surge::commands::main()
}
