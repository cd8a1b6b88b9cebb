//! `Validator::validate` and `write_body_canonical` (into a grown buffer) never allocate.

mod dict_util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use dict_util::{fixt_validator, msg, t, validator};
use fix_codec::EncodeBuffer;

/// Counts allocations made by the current thread (the test harness runs other threads).
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; the counter is a const-initialised thread-local
// without a destructor, so touching it cannot allocate or recurse.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn validate_and_canonical_do_not_allocate() {
    let v44 = validator("FIX44.xml");
    let v42 = validator("FIX42.xml");
    let fixt = fixt_validator();
    let order = "11=ID|21=1|40=2|44=10.5|54=1|38=100|55=INTC|60=<TIME>|";
    let cases = [
        (
            &v44,
            msg(
                "FIX.4.4",
                &t(&format!(
                    "35=D|34=2|49=A|52=<TIME>|56=B|{order}453=1|448=P|447=D|452=1|802=1|523=S|803=1|"
                )),
            ),
        ),
        (
            &v44,
            msg(
                "FIX.4.4",
                &t(&format!("35=D|34=2|49=A|52=<TIME>|56=B|{order}40=1|")),
            ),
        ),
        (
            &v44,
            msg("FIX.4.4", &t("35=0|34=2|49=A|52=<TIME>|56=B|-1=x|")),
        ),
        (
            &v44,
            msg("FIX.4.4", &t("35=0|34=2|49=A|52=<TIME>|56=B|x=1|")),
        ),
        (
            &v42,
            msg(
                "FIX.4.2",
                &t(&format!(
                    "35=D|34=2|49=A|52=<TIME>|56=B|{order}386=3|336=X|336=Y|"
                )),
            ),
        ),
        (&v42, msg("FIX.4.2", &t("35=*|34=2|49=A|52=<TIME>|56=B|"))),
        (
            &fixt,
            msg(
                "FIXT.1.1",
                &t(&format!("35=D|34=2|49=A|52=<TIME>|56=B|1128=9|{order}")),
            ),
        ),
    ];
    let mut buf = EncodeBuffer::with_capacity(4096);
    let mut results = Vec::with_capacity(cases.len());
    let mut headers = 0;
    let before = allocs();
    for (v, m) in &cases {
        results.push(v.validate(m));
        headers += usize::from(matches!(v.validate_framed_with_header(m), Ok(Some(_))));
        headers += usize::from(fix_codec::HeaderFields::scan(m).is_some());
        let mut enc = buf.encoder(b"FIX.4.4", b"D");
        let _ = v.write_body_canonical(m, &mut enc);
        enc.finish();
    }
    let after = allocs();
    assert_eq!(after - before, 0, "allocations during validation");
    // The counter does see this thread's allocations.
    let probe = std::hint::black_box(vec![1u8; 16]);
    assert!(allocs() > after && probe.len() == 16);
    // The cases do exercise both outcomes.
    assert!(results[0].is_ok() && results[6].is_ok());
    assert_eq!(headers, 2 + cases.len());
    assert!(results[1].is_err() && results[3].is_err() && results[5].is_err());
}
