package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/env"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

// Exit codes.
const (
	ExitOK    = 0 // success, allow
	ExitDeny  = 1 // policy deny, failed control, failed verification
	ExitError = 2 // usage or internal error
)

// errUsage marks a usage error (exit 2, with the command's usage on stderr).
var errUsage = errors.New("usage")

// errDeny marks an outcome that is a "no" rather than a failure (exit 1).
var errDeny = errors.New("denied")

func exitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errDeny), errors.Is(err, admit.ErrDenied), errors.Is(err, verify.ErrFailed):
		return ExitDeny
	}
	return ExitError
}

// app is what every subcommand gets.
type app struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

// commands lists every subcommand; each lives in its own file.
func commands() []command {
	return []command{
		{"keygen", "create an encrypted cosign key pair (COSIGN_PASSWORD)", runKeygen},
		{"build", "compile the service and build its OCI image without a daemon", runBuild},
		{"sbom", "write SPDX 2.3 and CycloneDX SBOMs of an image (syft)", runSBOM},
		{"sign", "sign an image digest (cosign, offline)", runSign},
		{"attest", "attach a signed in-toto attestation: sbom, provenance or controls", runAttest},
		{"verify", "verify signatures and attestations of a digest; print the facts", runVerify},
		{"admit", "decide admission of an image or a Pod/Deployment/AdmissionReview; admit serve: the cluster's AdmissionReview webhook", runAdmit},
		{"release", "build → push → sbom → sign → attest → verify → admit", runRelease},
		{"controls", "run the threat model's evidence; report every threat and control and the attestations missing (exit 1 if one fails; --require-attestations: or one is missing); controls attest: a reviewer signs a manual control", runControls},
		{"scan", "gosec, policy/repo and actionlint over the repository (text, json, sarif)", runScan},
		{"vuln", "govulncheck over both modules or a binary, pinned database, OpenVEX exceptions", runVuln},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a := &app{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, a, args[1:])
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stderr, "pipeline %s: %v\n", c.name, err)
			}
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	usage(stderr)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pipeline COMMAND [flags]  (pipeline COMMAND -h for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nenvironment:")
	vars := append([]env.Var{}, env.All...)
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	for _, v := range vars {
		s := ""
		if v.Sensitive {
			s = " (secret)"
		}
		fmt.Fprintf(w, "  %-22s %s%s\n", v.Name, v.Meaning, s)
	}
	fmt.Fprintln(w, "\nexit codes: 0 ok/allow, 1 deny or failed verification, 2 usage or internal error")
}

// flags creates a flag set that reports errors as usage errors.
func (a *app) flags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("pipeline "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: pipeline %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, checks the number of positional arguments, then each option group.
func parse(fs *flag.FlagSet, args []string, positional int, groups ...checker) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if positional >= 0 && fs.NArg() != positional {
		fs.Usage()
		return fmt.Errorf("%w: want %d argument(s), got %d", errUsage, positional, fs.NArg())
	}
	for _, g := range groups {
		if err := g.check(); err != nil {
			return err
		}
	}
	return nil
}

// checker is an option group that validates its flags once they are parsed.
type checker interface{ check() error }

// output is the machine-output choice shared by every command.
type output struct {
	format string
	file   string
}

func (o *output) register(fs *flag.FlagSet, def string) {
	fs.StringVar(&o.format, "format", def, "output format: text or json")
	fs.StringVar(&o.file, "o", "", "write the machine output to `FILE` instead of stdout")
}

func (o *output) check() error {
	if o.format != "text" && o.format != "json" {
		return fmt.Errorf("%w: --format %q (want text or json)", errUsage, o.format)
	}
	return nil
}

// emit writes v as JSON, or text() as text, to stdout or -o FILE.
func (o *output) emit(a *app, v any, text func(io.Writer)) error {
	w := a.stdout
	if o.file != "" {
		f, err := os.Create(o.file)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if o.format == "json" || text == nil {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	text(w)
	return nil
}

// writeReport writes a report in its machine format to stdout, or to outFile with the text
// summary on stderr.
func writeReport(a *app, outFile string, write func(io.Writer) error, text func(io.Writer)) error {
	if outFile == "" {
		return write(a.stdout)
	}
	f, err := os.Create(outFile) // #nosec G304 -- the operator names the report file
	if err != nil {
		return err
	}
	werr := write(f)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", outFile, werr)
	}
	text(a.stderr)
	return nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func (a *app) password() []byte { return []byte(env.CosignPassword.Get(a.getenv)) }
