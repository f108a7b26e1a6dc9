//! The crate's one sort. Every sort goes through [`sort_indices`] (indices and a
//! `&dyn` comparison), so the WebAssembly module carries one sort implementation
//! instead of one per element type and closure (each `sort_by` of the standard
//! library is a separate copy of its sorting code, about 2 KB each).

/// Sorts indices with a comparison. Not stable: make the comparison total (end it
/// with the indices) where the order of equals matters.
pub(crate) fn sort_indices(indices: &mut [u32], order: &dyn Fn(u32, u32) -> std::cmp::Ordering) {
    indices.sort_unstable_by(|&a, &b| order(a, b));
}

/// `0..n` as indices.
pub(crate) fn indices(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}
