package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/controls"
)

func runControls(ctx context.Context, a *app, args []string) error {
	fs := a.flags("controls", "[flags]")
	root := fs.String("root", ".", "repository root")
	model := fs.String("model", "threatmodel/threatmodel.yaml", "threat model `FILE`, relative to -root")
	out := fs.String("out", "out/controls", "`DIR` for report.txt, report.md, report.json, controls.sarif, junit.xml and predicate.json (empty: none)")
	verbose := fs.Bool("v", false, "list every evidence id in the terminal, not only failing ones")
	cached := fs.Bool("cached", false, "let go test reuse cached results (default -count=1: every named test runs now)")
	allowDirty := fs.Bool("allow-dirty", false, "write predicate.json even when the work tree has uncommitted changes")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	o := controls.Options{Root: *root, Model: *model, Checks: pipelineChecks(*root)}
	if !*cached {
		o.GoFlags = []string{"-count=1"}
	}
	rep, err := controls.Run(ctx, o)
	if errors.Is(err, controls.ErrModel) {
		return fmt.Errorf("%w: %v", errDeny, err)
	}
	if err != nil {
		return err
	}
	rep.WriteText(a.stdout, *verbose)
	if *out != "" {
		dir := *out
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(*root, dir)
		}
		note, err := rep.Write(dir, *allowDirty)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "reports in %s\n", dir)
		if note != "" {
			fmt.Fprintf(a.stdout, "%s\n", note)
		}
	}
	if !rep.Passed {
		var failing []string
		seen := map[string]bool{}
		for _, f := range rep.Findings {
			who := f.Control
			if who == "" {
				who = f.Threat
			}
			if who == "" {
				who = "model"
			}
			if !seen[who] {
				seen[who] = true
				failing = append(failing, who)
			}
		}
		return fmt.Errorf("%w: %d findings in %s", errDeny, len(rep.Findings), strings.Join(failing, ", "))
	}
	return nil
}

// pipelineChecks returns the checks that check:<name> evidence can name. A name the model
// uses that is not here is reported as missing evidence.
func pipelineChecks(root string) map[string]controls.Check {
	return map[string]controls.Check{}
}
