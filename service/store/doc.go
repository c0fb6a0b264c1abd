// Package store keeps movies. It defines the Store interface the API depends
// on, Memory (an in-memory Store for tests) and Journal, the durable Store
// the service runs on. It imports only the standard library
// (TestStdlibOnly proves it).
//
// A Journal keeps every movie in an in-memory index over an append-only
// journal in its data directory. Its guarantees:
//
//   - A write returns nil only after its record is fsynced. Concurrent
//     writers share one write and one fsync (group commit).
//   - A write that returns an error is not visible to reads, and the
//     journal is cut back to its last durable record before anything else
//     is appended, so a crash cannot bring it back or leave half of it in
//     the middle of the file. Disk full returns ErrNoSpace, other I/O
//     failures ErrUnavailable; Ready reports the fault and each later write
//     or Ready call retries until the disk takes data again.
//   - When the cut itself fails (a disk going read-only), the failed frame's
//     header gets its abort mark, so replay never applies it.
//   - Open replays the newest snapshot and the journal after it. A bad tail
//     (the record a crash interrupted, an aborted write, or a damaged last
//     record, which is logged at error level) is moved to a quarantine file
//     beside the segment and cut; damage anywhere else stops Open with a
//     *CorruptError naming file and offset, because serving a partial
//     history would be worse than not starting.
//   - Compaction writes a snapshot (temp file, fsync, rename, fsync of the
//     directory) and then removes the segments it covers; a crash at any
//     step loses nothing.
//   - The data directory (mode 0700, files 0600) is locked against a second
//     writer with flock. Backup reads it without the lock; Restore verifies
//     a backup completely before writing anything.
//
// The file format and the recovery procedure are in README.md beside this
// file.
package store
