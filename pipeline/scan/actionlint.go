package scan

import (
	"fmt"
	"io"
	"time"

	"github.com/rhysd/actionlint"
)

// runActionlint lints every workflow with actionlint (syntax, expressions and their types,
// contexts available where they are used, untrusted inputs in scripts, runner labels, …).
// shellcheck and pyflakes are not run: they are not Go tools and cannot be pinned in go.mod.
func runActionlint(o Options, r *Report) error {
	start := time.Now()
	before := len(r.Findings)
	files, err := workflowFiles(o)
	if err != nil {
		return err
	}
	if len(files) > 0 {
		l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{WorkingDir: o.Root, LogWriter: io.Discard, Color: actionlint.ColorOptionKindNever})
		if err != nil {
			return fmt.Errorf("actionlint: %w", err)
		}
		errs, err := l.LintFiles(files, nil)
		if err != nil {
			return fmt.Errorf("actionlint: %w", err)
		}
		for _, e := range errs {
			r.Findings = append(r.Findings, Finding{
				Check: CheckActionlint, Rule: e.Kind, Severity: "MEDIUM",
				File: rel(o.Root, e.Filepath), Line: e.Line, Column: e.Column, Message: e.Message,
			})
		}
	}
	r.addCheck(CheckActionlint, before, time.Since(start).Seconds(), fmt.Sprintf("%d workflow(s)", len(files)))
	return nil
}
