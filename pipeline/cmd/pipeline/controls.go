package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/secure-movie-service/sms/pipeline/branchprotection"
	"github.com/secure-movie-service/sms/pipeline/controls"
	"github.com/secure-movie-service/sms/pipeline/controls/checks"
	"github.com/secure-movie-service/sms/pipeline/env"
	"github.com/secure-movie-service/sms/pipeline/scan"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

func runControls(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "attest" {
		return runControlsAttest(a, args[1:])
	}
	if len(args) > 0 && args[0] == "fresh" {
		return runControlsFresh(ctx, a, args[1:])
	}
	fs := a.flags("controls", "[flags]  |  controls attest --control ID --evidence FILE|URL --expires YYYY-MM-DD --key KEY  |  controls fresh [FILE]")
	root := fs.String("root", ".", "repository root")
	model := fs.String("model", "threatmodel/threatmodel.yaml", "threat model `FILE`, relative to -root")
	out := fs.String("out", "out/controls", "`DIR` for report.txt, report.md, report.json, controls.sarif, junit.xml and predicate.json (empty: none)")
	verbose := fs.Bool("v", false, "list every evidence id in the terminal, not only failing ones")
	cached := fs.Bool("cached", false, "let go test and the vulnerability scan reuse cached results (default: every named test and scan runs now)")
	allowDirty := fs.Bool("allow-dirty", false, "write predicate.json even when the work tree has uncommitted changes")
	require := fs.Bool("require-attestations", false, "fail (exit 1) when an attestation is missing: a manual control without a current signed attestation, a platform control not verifiable here (what a release uses)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	o := controls.Options{Root: *root, Model: *model, Checks: pipelineChecks(*root, *cached), RequireAttestations: *require,
		Platform: platformChecks(a.getenv)}
	if !*cached {
		o.GoFlags = []string{"-count=1"}
	}
	rep, err := controls.Run(ctx, o)
	if errors.Is(err, controls.ErrModel) || errors.Is(err, controls.ErrReviewers) {
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
	if len(rep.AttestationsMissing) > 0 {
		fmt.Fprintf(a.stdout, "attestations missing (%d): %s\n", len(rep.AttestationsMissing), missingIDs(rep))
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
		if *require && len(rep.AttestationsMissing) > 0 {
			return fmt.Errorf("%w: %d findings in %s; attestations required and missing: %s", errDeny, len(rep.Findings), strings.Join(failing, ", "), missingIDs(rep))
		}
		return fmt.Errorf("%w: %d findings in %s", errDeny, len(rep.Findings), strings.Join(failing, ", "))
	}
	return nil
}

func missingIDs(rep *controls.Report) string {
	ids := make([]string, len(rep.AttestationsMissing))
	for i, m := range rep.AttestationsMissing {
		ids[i] = m.Control
	}
	return strings.Join(ids, ", ")
}

// platformChecks returns the checks kind: platform controls name: GitHub's protection of the
// default branch, read with GITHUB_TOKEN for GITHUB_REPOSITORY (as CI sets them); without
// them each is not verifiable here.
func platformChecks(getenv func(string) string) map[string]controls.PlatformCheck {
	o := branchprotection.Options{Token: env.GitHubToken.Get(getenv), Repository: env.GitHubRepository.Get(getenv),
		BaseURL: env.GitHubAPIURL.Get(getenv)}
	out := map[string]controls.PlatformCheck{}
	for name, check := range branchprotection.Checks(o) {
		out[name] = controls.PlatformCheck(check)
	}
	return out
}

// runControlsFresh exits 0 when the predicate holds the results of HEAD on a clean tree, 1
// (saying why) otherwise: make release runs verify-controls again only then.
func runControlsFresh(ctx context.Context, a *app, args []string) error {
	fs := a.flags("controls fresh", "[--root DIR] [FILE (default out/controls/predicate.json)]")
	root := fs.String("root", ".", "repository root")
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	path := filepath.Join(*root, "out", "controls", controls.FilePredicate)
	switch fs.NArg() {
	case 0:
	case 1:
		path = fs.Arg(0)
	default:
		return fmt.Errorf("%w: at most one predicate file", errUsage)
	}
	if err := controls.Fresh(ctx, *root, path); err != nil {
		return fmt.Errorf("%w: %v", errDeny, err)
	}
	fmt.Fprintf(a.stdout, "%s holds the results of HEAD\n", path)
	return nil
}

// pipelineChecks returns the checks that check:<name> evidence can name: the checks of
// pipeline scan (each scan group runs at most once, and only when the model names one of its
// checks) and the controls' own checks of the deployment manifests and the repository. A name
// the model uses that is not here is reported as missing evidence.
func pipelineChecks(root string, cached bool) map[string]controls.Check {
	type groupRun struct {
		once sync.Once
		r    *scan.Report
		err  error
	}
	groups := map[string]*groupRun{}
	for _, g := range scan.Groups {
		groups[g] = &groupRun{}
	}
	fromScan := func(group, name string) controls.Check {
		return func(ctx context.Context) (string, error) {
			g := groups[group]
			g.once.Do(func() { g.r, g.err = scan.Run(ctx, scan.Options{Root: root, Only: []string{group}}) })
			if g.err != nil {
				return "", fmt.Errorf("pipeline scan %s: %w", group, g.err)
			}
			c := g.r.Check(name)
			if !c.Ran {
				return "", fmt.Errorf("pipeline scan did not run %s: %s", name, c.Detail)
			}
			if c.Passed {
				return c.Detail, nil
			}
			var where []string
			for _, f := range g.r.Findings {
				if f.Check == name {
					where = append(where, fmt.Sprintf("%s:%d %s %s", f.File, f.Line, f.Rule, f.Message))
				}
			}
			return "", fmt.Errorf("%d findings: %s", c.Findings, strings.Join(where, "; "))
		}
	}
	return map[string]controls.Check{
		scan.CheckGosec:            fromScan(scan.GroupGosec, scan.CheckGosec),
		scan.CheckNosec:            fromScan(scan.GroupGosec, scan.CheckNosec),
		scan.CheckDockerfilePolicy: fromScan(scan.GroupPolicy, scan.CheckDockerfilePolicy),
		scan.CheckWorkflowPolicy:   fromScan(scan.GroupPolicy, scan.CheckWorkflowPolicy),
		scan.CheckActionlint:       fromScan(scan.GroupActionlint, scan.CheckActionlint),
		checks.NetworkPolicy:       checks.CheckNetworkPolicy(root),
		checks.DeploymentTLS:       checks.CheckDeploymentTLS(root),
		checks.SecretScan:          checks.CheckSecrets(root),
		vuln.CheckSourceName:       vuln.CheckSource(root, "", cached),
		vuln.CheckImageName:        vuln.CheckImage(root, ""),
	}
}
