//! Pinning I/O threads to CPUs (`IoCpus` / `IoThread.<i>.Cpu`).

/// Pins the calling thread to `cpu`. Returns whether the OS accepted it; an unknown CPU id is
/// reported as `false` rather than an error, so a configuration written for a bigger machine
/// still runs (unpinned) on a smaller one.
pub(crate) fn pin_current_thread(cpu: usize) -> bool {
    let Some(ids) = core_affinity::get_core_ids() else {
        return false;
    };
    match ids.into_iter().find(|c| c.id == cpu) {
        Some(id) => core_affinity::set_for_current(id),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pinning_to_a_cpu_that_does_not_exist_is_refused_not_fatal() {
        assert!(!super::pin_current_thread(usize::MAX));
    }
}
