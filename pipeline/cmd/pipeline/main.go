// Command pipeline is the release half of the toolkit: it builds the service image without a
// daemon, writes its SBOMs, signs and attests it with cosign, verifies what is attached to a
// digest, and decides admission with policy/admission. Run `pipeline help` for the commands.
//
// Exit codes: 0 ok or allow; 1 deny, failed control or failed verification; 2 usage or
// internal error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}
