//! The global allocator: mimalloc (glibc malloc's arena locks and
//! consolidation were about a tenth of a verify's CPU in issue 6's profile),
//! asked for a plain allocation whenever the alignment allows one.
//!
//! The `mimalloc` crate asks `mi_malloc_aligned` for every allocation. For a
//! block above 1 KiB whose size class is not a power of two, mimalloc v3
//! then over-allocates and offsets the pointer, even at alignment 8. A
//! ratelimits.limit request made ~7 such allocations, about 3% of its
//! instructions (callgrind, issue 13). Every block mimalloc hands out is
//! aligned to at least a word (its size classes are multiples of 8 bytes),
//! so a plain `mi_malloc` serves any alignment up to 8.

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment of every mimalloc block.
const WORD: usize = std::mem::size_of::<usize>();

pub struct MiMalloc;

/// `plain(size)` when a word's alignment is enough, else `aligned(size, align)`.
///
/// # Safety
/// As [`GlobalAlloc::alloc`]: `layout` has a non-zero size.
#[inline(always)]
unsafe fn allocate(
    layout: Layout,
    plain: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    // SAFETY: both return null or a block of `size` bytes, aligned to WORD
    // or to `align`.
    unsafe {
        if layout.align() <= WORD {
            plain(layout.size()).cast()
        } else {
            aligned(layout.size(), layout.align()).cast()
        }
    }
}

// SAFETY: mimalloc's functions meet GlobalAlloc's contract: each returns
// null or a block of at least `size` bytes, aligned as asked (any block is
// aligned to WORD), and `mi_free` takes any block that they returned.
unsafe impl GlobalAlloc for MiMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as GlobalAlloc requires.
        unsafe { allocate(layout, mi_malloc, mi_malloc_aligned) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        unsafe { allocate(layout, mi_zalloc, mi_zalloc_aligned) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator.
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe {
            if layout.align() <= WORD {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size around mimalloc's small and medium size classes, at every
    /// alignment from 1 to 4096: the block is aligned, writable to its end,
    /// and keeps its bytes through a realloc.
    #[test]
    fn blocks_are_aligned_as_asked_and_keep_their_bytes() {
        let sizes = (1..=2048).chain([4095, 4096, 4097, 10_000, 100_000, 1 << 20]);
        for size in sizes {
            for align in (0..=12).map(|shift| 1usize << shift) {
                let layout = Layout::from_size_align(size, align).expect("a layout");
                // SAFETY: a non-zero size; what is written stays in the block.
                unsafe {
                    let zeroed = MiMalloc.alloc_zeroed(layout);
                    assert!(!zeroed.is_null());
                    assert_eq!(zeroed as usize % align, 0, "size {size}, align {align}");
                    assert!(
                        std::slice::from_raw_parts(zeroed, size)
                            .iter()
                            .all(|b| *b == 0)
                    );
                    MiMalloc.dealloc(zeroed, layout);

                    let block = MiMalloc.alloc(layout);
                    assert_eq!(block as usize % align, 0, "size {size}, align {align}");
                    std::ptr::write_bytes(block, 0xa5, size);
                    let grown = MiMalloc.realloc(block, layout, size * 2 + 1);
                    assert_eq!(grown as usize % align, 0, "size {size}, align {align}");
                    assert!(
                        std::slice::from_raw_parts(grown, size)
                            .iter()
                            .all(|b| *b == 0xa5)
                    );
                    let grown_layout =
                        Layout::from_size_align(size * 2 + 1, align).expect("a layout");
                    MiMalloc.dealloc(grown, grown_layout);
                }
            }
        }
    }
}
