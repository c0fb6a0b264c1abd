package scan

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// CheckFuncs returns the scan's checks by name (CheckGosec, CheckNosec, CheckDockerfilePolicy,
// CheckWorkflowPolicy, CheckActionlint) for `check:<name>` evidence in the threat model. Each
// returns nil when its check passed, or an error naming the findings. Checks of one group share
// a single run: asking for gosec and nosec scans the Go code once.
func CheckFuncs(root string) map[string]func(context.Context) error {
	type group struct {
		once sync.Once
		rep  *Report
		err  error
	}
	groups := map[string]*group{}
	for _, g := range Groups {
		groups[g] = &group{}
	}
	check := func(groupName, name string) func(context.Context) error {
		return func(ctx context.Context) error {
			g := groups[groupName]
			g.once.Do(func() { g.rep, g.err = Run(ctx, Options{Root: root, Only: []string{groupName}}) })
			if g.err != nil {
				return g.err
			}
			c := g.rep.Check(name)
			if !c.Ran {
				return fmt.Errorf("%s did not run", name)
			}
			if c.Passed {
				return nil
			}
			var lines []string
			for _, f := range g.rep.Findings {
				if f.Check == name {
					lines = append(lines, fmt.Sprintf("%s: %s %s", location(f), f.Rule, oneLine(f.Message)))
				}
			}
			return fmt.Errorf("%d finding(s): %s", len(lines), strings.Join(lines, "; "))
		}
	}
	return map[string]func(context.Context) error{
		CheckGosec:            check(GroupGosec, CheckGosec),
		CheckNosec:            check(GroupGosec, CheckNosec),
		CheckDockerfilePolicy: check(GroupPolicy, CheckDockerfilePolicy),
		CheckWorkflowPolicy:   check(GroupPolicy, CheckWorkflowPolicy),
		CheckActionlint:       check(GroupActionlint, CheckActionlint),
	}
}
