// Package build compiles the service and assembles its OCI image without a container
// daemon: a reproducible, static Go binary (CGO_ENABLED=0, -trimpath, -ldflags=-buildid=) in
// one layer whose every timestamp is SOURCE_DATE_EPOCH (the commit time), run as the numeric
// non-root user 65532:65532, with OCI annotations naming the source and revision. The same
// commit always yields the same image digest.
package build
