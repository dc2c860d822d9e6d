//! The kernel's hot path allocates nothing: a counting global allocator sees zero allocations
//! (and zero reallocations or frees) across `step` on batches that exercise every guard kind,
//! class updates, rules and alerts. Its own test binary, so no other test's threads allocate
//! while the counter is read.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use ledgraph::kernel::{Actions, State, sample, step};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn step_allocates_nothing() {
    let program = sample::program();
    let view = program.view().expect("valid sample program");
    let mut generator = sample::Generator::new(&program, 3, 1_000);
    let batch_len = 10_000;
    let batches: Vec<Vec<_>> = (0..20)
        .map(|_| {
            let mut b = Vec::new();
            generator.fill(&mut b, batch_len);
            b
        })
        .collect();
    let mut types = State::new(&view);
    types.ensure_nodes(generator.id_bound());
    let mut out = Actions::for_batch(&view, batch_len);
    let mut totals = [0u64; 4];

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for batch in &batches {
        let r = step(&view, &mut types, batch, &mut out);
        totals[0] += r.violations;
        totals[1] += r.emitted;
        totals[2] += r.alerts;
        totals[3] += r.dropped;
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);

    assert_eq!(after - before, 0, "step allocated");
    assert_eq!(totals[3], 0, "nothing dropped");
    assert!(
        totals[0] > 0 && totals[1] > 0 && totals[2] > 0,
        "{totals:?}: every path ran"
    );
}
