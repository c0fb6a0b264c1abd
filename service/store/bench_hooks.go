//go:build smsbench

package store

// This file exists only in binaries built with -tags smsbench, so that a
// benchmark in another package (the HTTP benchmark behind `make bench`) can
// compare against fsync-off and one-fsync-per-write baselines. No production
// build has these functions: the service binary is built without the tag,
// and TestBenchHooksAreTagged keeps the build constraint in place.

// DisableFsyncForBenchmark makes a Journal opened with opts skip the fsync of
// each batch. Acknowledged writes are then NOT durable.
func DisableFsyncForBenchmark(opts *Options) { opts.noSync = true }

// DisableGroupCommitForBenchmark makes a Journal opened with opts write and
// fsync each write on its own: the baseline group commit is measured against.
func DisableGroupCommitForBenchmark(opts *Options) { opts.syncEachWrite = true }
