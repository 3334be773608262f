// Tens of thousands of visits allocate and free small objects on every request from two worker
// threads: mimalloc's per-thread free lists cost less CPU than the system allocator's, and give
// freed pages back instead of keeping them in per-thread arenas. Its transparent huge pages stay on
// (not `no_thp`), and are asked for (below): bench/RESULTS.md measures both.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    heap_on_huge_pages();
    surge::commands::main()
}

/// Back the heap with 2 MiB pages where the kernel gives them (transparent huge pages in `madvise`
/// mode go only to memory that asks). With 15,000 visits in flight the heap spans hundreds of MiB,
/// and on 4 KiB pages allocating cost three times its share with a small heap (mimalloc 16 % of
/// a profile at the peak, 5 % at saturation with 50 in flight): the first morning at 120× fell
/// behind at its peak in 4 of 4 runs, and kept up in 13 of 18 with them (bench/RESULTS.md).
/// `MIMALLOC_ALLOW_LARGE_OS_PAGES=0` in the environment turns it off.
fn heap_on_huge_pages() {
    use libmimalloc_sys::{mi_option_large_os_pages, mi_option_set_enabled};
    let set_by_user = ["MIMALLOC_ALLOW_LARGE_OS_PAGES", "MIMALLOC_LARGE_OS_PAGES"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    if !set_by_user {
        // SAFETY: mimalloc's options are plain globals, set here before any other thread exists.
        unsafe { mi_option_set_enabled(mi_option_large_os_pages, true) }
    }
}
