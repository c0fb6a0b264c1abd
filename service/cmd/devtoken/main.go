// Command devtoken mints development bearer tokens for the movie service. It
// is a development tool only and never part of the image.
//
//	devtoken init -dir .dev [-issuer URL] [-audience AUD] [-ttl 12h]
//	devtoken mint -key FILE -sub SUBJECT -roles a,b [-issuer URL] [-audience AUD] [-ttl 1h]
//
// init creates an Ed25519 key (DIR/keys/dev-ed25519.pem, PKCS#8, mode 0600)
// unless one exists, writes its public JWKS (DIR/jwks.json, kid = RFC 7638
// thumbprint) and mints DIR/tokens/{viewer,editor,editor2,admin}.jwt. It
// prints the paths it wrote, never a token. mint prints one token.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 2 // usage or internal error
)

// Flag defaults, shared by both subcommands.
const (
	defaultIssuer   = "https://movies.dev.local"
	defaultAudience = "movies-api"
)

const usage = `usage:
  devtoken init -dir DIR [-issuer URL] [-audience AUD] [-ttl 12h]
  devtoken mint -key FILE -sub SUBJECT [-roles a,b] [-issuer URL] [-audience AUD] [-ttl 1h]
`

// errUsage marks errors that come from how the command was called.
var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(exitOK)
	default:
		fmt.Fprintln(os.Stderr, "devtoken:", err)
		os.Exit(exitError)
	}
}

// run executes the subcommand in args (without the program name), writing
// results to stdout and diagnostics to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: missing subcommand", errUsage)
	}
	switch args[0] {
	case "init":
		return runInit(args[1:], stdout, stderr)
	case "mint":
		return runMint(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown subcommand %q", errUsage, args[0])
	}
}

// parseFlags parses args into fs, which writes its own messages to stderr,
// and refuses positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, fs.Name(), fs.Arg(0))
	}
	return nil
}
