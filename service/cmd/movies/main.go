// Command movies is the Secure Movie Service API server.
//
//	movies [flags]               serve the API (see -h; every flag has a MOVIES_* env default)
//	movies healthcheck [-addr A] probe /healthz; exit 0 if healthy, 1 if not (for images without a shell)
//	movies backup -data-dir D -o FILE   consistent backup of a data dir, also of a running server's
//	movies restore -data-dir D FILE     restore a backup into an empty data dir
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "movies:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage marks errors in how the command was called.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "healthcheck":
			return healthcheck(ctx, args[1:], getenv, stdout, stderr)
		case "backup":
			return backup(args[1:], getenv, stdout, stderr)
		case "restore":
			return restore(args[1:], getenv, stdout, stderr)
		}
	}
	return serve(ctx, args, getenv, stderr)
}
