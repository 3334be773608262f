//! Buffers a worker thread reuses to build its requests. A request's URL and JSON body are written
//! into the buffer the thread's last request left, instead of into a fresh allocation grown as it
//! is written (serde_json's `to_vec` starts at 128 bytes and doubles): the JSON body then costs one
//! allocation of its exact size, and the URL's text none.

use std::cell::RefCell;
use std::thread::LocalKey;

/// The most a buffer keeps between requests, so that one huge body does not pin its size on the
/// thread for the rest of the run.
const KEEP_AT_MOST: usize = 64 * 1024;

thread_local! {
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
    static BYTES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `write` on the thread's text buffer, empty. A call from inside another (a template that
/// renders while a URL is written) gets a fresh buffer of its own.
pub fn with_text<R>(write: impl FnOnce(&mut String) -> R) -> R {
    with(&TEXT, write)
}

/// Runs `write` on the thread's byte buffer, empty; as [`with_text`].
pub fn with_bytes<R>(write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    with(&BYTES, write)
}

/// What a buffer needs to be reused: emptied, and its room known.
trait Buffer: Default {
    fn empty(&mut self);
    fn room(&self) -> usize;
}

impl Buffer for String {
    fn empty(&mut self) {
        self.clear()
    }
    fn room(&self) -> usize {
        self.capacity()
    }
}

impl Buffer for Vec<u8> {
    fn empty(&mut self) {
        self.clear()
    }
    fn room(&self) -> usize {
        self.capacity()
    }
}

fn with<B: Buffer, R>(buffer: &'static LocalKey<RefCell<B>>, write: impl FnOnce(&mut B) -> R) -> R {
    buffer.with(|cell| match cell.try_borrow_mut() {
        Ok(mut kept) => {
            kept.empty();
            let result = write(&mut kept);
            if kept.room() > KEEP_AT_MOST {
                *kept = B::default();
            }
            result
        }
        Err(_) => write(&mut B::default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_starts_empty_and_keeps_its_room_for_the_next_request() {
        let room = with_text(|text| {
            text.push_str("/api/v1/plans/11512NC0100001");
            text.capacity()
        });
        with_text(|text| {
            assert!(text.is_empty(), "left over: {text:?}");
            assert_eq!(text.capacity(), room, "the room is reused");
        });
    }

    #[test]
    fn a_call_inside_another_writes_its_own_buffer() {
        let (outer, inner) = with_bytes(|outer| {
            outer.extend_from_slice(b"outer");
            let inner = with_bytes(|inner| {
                inner.extend_from_slice(b"inner");
                inner.clone()
            });
            (outer.clone(), inner)
        });
        assert_eq!((&outer[..], &inner[..]), (&b"outer"[..], &b"inner"[..]));
    }

    #[test]
    fn a_huge_body_is_not_kept_after_it_is_written() {
        with_bytes(|bytes| bytes.resize(KEEP_AT_MOST + 1, b' '));
        with_bytes(|bytes| assert!(bytes.capacity() <= KEEP_AT_MOST));
    }
}
