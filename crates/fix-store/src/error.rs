//! The crate's one error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in a store. Variants that concern a file name it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An operating-system call on `path` failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`open`, `mmap`, `msync`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Another process (or another handle in this process) holds the store's lock.
    #[error("store is in use: lock {} is held by another owner", path.display())]
    Locked {
        /// What is locked: the store's directory, or the `lock` file in it of a store made by
        /// an earlier version.
        path: PathBuf,
    },
    /// A file exists but is not a store file of a format this version understands, or its
    /// checksummed content cannot be recovered.
    #[error("corrupt store file {}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file was written by an incompatible format version.
    #[error("store file {} has format version {found}, expected {expected}", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// Version found in the header.
        found: u32,
        /// Version this build writes and reads.
        expected: u32,
    },
    /// The session identity is empty or too long to be a directory name.
    #[error("invalid session identity: {0}")]
    InvalidIdentity(&'static str),
    /// A sequence number is 0 or above [`crate::MAX_SEQ_NUM`].
    #[error("sequence number {0} out of range")]
    SeqNumOutOfRange(u64),
    /// An outbound append did not have a sequence number above the last journaled one.
    #[error("sequence number {seq} not above the last journaled {last}")]
    SeqNumNotIncreasing {
        /// The number passed.
        seq: u64,
        /// The last number already in the journal.
        last: u64,
    },
    /// A message is empty or larger than a journal segment can hold.
    #[error("message of {len} bytes cannot be journaled (1..={max} bytes)")]
    MessageSize {
        /// Length of the message.
        len: usize,
        /// Largest length the journal accepts with these options.
        max: usize,
    },
    /// Options passed to `open` are inconsistent.
    #[error("invalid store options: {0}")]
    InvalidOptions(&'static str),
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: &'static str) -> Self {
        StoreError::Corrupt {
            path: path.into(),
            reason,
        }
    }
}
