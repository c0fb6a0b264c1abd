package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/scan"
)

func runScan(ctx context.Context, a *app, args []string) error {
	fs := a.flags("scan", "[flags] [PACKAGE-PATTERN...]   (default ./... ./service/...)")
	var o scan.Options
	var format, outFile, only string
	fs.StringVar(&o.Root, "root", ".", "repository `DIR` to scan")
	fs.StringVar(&format, "format", "text", "report format: text, json or sarif")
	fs.StringVar(&outFile, "o", "", "write the report to `FILE` (a summary still goes to stderr)")
	fs.StringVar(&o.Severity, "severity", "medium", "lowest gosec severity that fails: low, medium or high")
	fs.StringVar(&o.Confidence, "confidence", "low", "lowest gosec confidence that counts: low, medium or high")
	fs.BoolVar(&o.Tests, "tests", false, "also scan _test.go files with gosec")
	fs.StringVar(&o.PolicyDir, "policy", "", "Rego rules `DIR` (default ROOT/policy/repo)")
	fs.StringVar(&only, "only", "", "comma-separated check groups to run: gosec, policy, actionlint (default all)")
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	if !slices.Contains(scan.Formats, format) {
		return fmt.Errorf("%w: --format %q (want %s)", errUsage, format, strings.Join(scan.Formats, ", "))
	}
	o.Patterns = fs.Args()
	if only != "" {
		o.Only = strings.Split(only, ",")
	}
	o.Progress = a.stderr
	r, err := scan.Run(ctx, o)
	if err != nil {
		if errors.Is(err, scan.ErrUsage) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	if err := writeReport(a, outFile, func(w io.Writer) error { return r.Write(w, format) }, r.WriteText); err != nil {
		return err
	}
	if !r.Passed {
		return fmt.Errorf("%w: %d finding(s)", errDeny, len(r.Findings))
	}
	return nil
}
