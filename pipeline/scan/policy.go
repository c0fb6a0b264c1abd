package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/secure-movie-service/sms/pipeline/scan/dockerfile"
	"github.com/secure-movie-service/sms/pipeline/scan/workflow"
)

// Queries of policy/repo; each is a set of {"code", "msg", "line"}.
const (
	DockerfileQuery = "data.repo.dockerfile.deny"
	WorkflowQuery   = "data.repo.workflow.deny"
)

// Deny is one deny reason of policy/repo.
type Deny struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
	Line int    `json:"line"`
}

// Policy is policy/repo compiled for both queries.
type Policy struct {
	dockerfile, workflow rego.PreparedEvalQuery
}

// LoadPolicy compiles the .rego files under dir (tests excluded).
func LoadPolicy(ctx context.Context, dir string) (*Policy, error) {
	var mods []func(*rego.Rego)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		b, err := readFile(p, 1<<20)
		if err != nil {
			return err
		}
		mods = append(mods, rego.Module(p, string(b)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", dir, err)
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("policy %s: no .rego files", dir)
	}
	prepare := func(q string) (rego.PreparedEvalQuery, error) {
		opts := append([]func(*rego.Rego){rego.Query(q), rego.StrictBuiltinErrors(false)}, mods...)
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			return pq, fmt.Errorf("policy %s: %w", dir, err)
		}
		return pq, nil
	}
	p := &Policy{}
	if p.dockerfile, err = prepare(DockerfileQuery); err != nil {
		return nil, err
	}
	if p.workflow, err = prepare(WorkflowQuery); err != nil {
		return nil, err
	}
	return p, nil
}

// DockerfileInput is the policy input for a parsed Dockerfile.
func DockerfileInput(path string, f *dockerfile.File) map[string]any {
	return map[string]any{"path": path, "instructions": f.Instructions, "stages": f.Stages, "directives": f.Directives}
}

// WorkflowInput is the policy input for a parsed workflow.
func WorkflowInput(path string, d *workflow.Document) map[string]any {
	return map[string]any{"path": path, "workflow": d.Value, "lines": d.Lines, "content_lines": d.ContentLines, "comments": d.Comments}
}

// Dockerfile evaluates the Dockerfile rules.
func (p *Policy) Dockerfile(ctx context.Context, input map[string]any) ([]Deny, error) {
	return eval(ctx, p.dockerfile, DockerfileQuery, input)
}

// Workflow evaluates the workflow rules.
func (p *Policy) Workflow(ctx context.Context, input map[string]any) ([]Deny, error) {
	return eval(ctx, p.workflow, WorkflowQuery, input)
}

// eval runs a query. The input goes through JSON so that policy sees exactly what a conftest
// user would (numbers, no Go types). An undefined result is an error: a policy that says
// nothing has not allowed anything.
func eval(ctx context.Context, pq rego.PreparedEvalQuery, query string, input map[string]any) ([]Deny, error) {
	b, err := json.Marshal(input)
	if err != nil {
		return nil, err
	}
	var in any
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	rs, err := pq.Eval(ctx, rego.EvalInput(in))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("%s is undefined: policy/repo must define it", query)
	}
	raw, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return nil, err
	}
	var denies []Deny
	if err := json.Unmarshal(raw, &denies); err != nil {
		return nil, fmt.Errorf("%s: each deny must be {code, msg, line}: %w", query, err)
	}
	for _, d := range denies {
		if d.Code == "" || d.Msg == "" {
			return nil, fmt.Errorf("%s: a deny without code or message: %s", query, raw)
		}
	}
	sort.Slice(denies, func(i, j int) bool {
		if denies[i].Line != denies[j].Line {
			return denies[i].Line < denies[j].Line
		}
		return denies[i].Code < denies[j].Code
	})
	return denies, nil
}

// runPolicy parses the Dockerfile(s) and every workflow and evaluates policy/repo over them.
func runPolicy(ctx context.Context, o Options, r *Report) error {
	start := time.Now()
	p, err := LoadPolicy(ctx, o.PolicyDir)
	if err != nil {
		return err
	}
	before := len(r.Findings)
	for _, name := range o.Dockerfiles {
		path := filepath.Join(o.Root, name)
		file := rel(o.Root, path)
		src, err := readFile(path, dockerfile.MaxBytes)
		if errors.Is(err, fs.ErrNotExist) {
			r.Findings = append(r.Findings, Finding{Check: CheckDockerfilePolicy, Rule: "SCAN-MISSING", Severity: "HIGH", File: file, Message: "the Dockerfile is missing"})
			continue
		}
		if err != nil {
			return err
		}
		r.Dockerfiles = append(r.Dockerfiles, file)
		f, err := dockerfile.Parse(src)
		if err != nil {
			r.Findings = append(r.Findings, parseFinding(CheckDockerfilePolicy, file, err))
			continue
		}
		denies, err := p.Dockerfile(ctx, DockerfileInput(file, f))
		if err != nil {
			return err
		}
		for _, d := range denies {
			r.Findings = append(r.Findings, Finding{Check: CheckDockerfilePolicy, Rule: d.Code, Severity: "HIGH", File: file, Line: d.Line, Message: d.Msg})
		}
	}
	r.addCheck(CheckDockerfilePolicy, before, time.Since(start).Seconds(), fmt.Sprintf("%d Dockerfile(s)", len(r.Dockerfiles)))

	start, before = time.Now(), len(r.Findings)
	files, err := workflowFiles(o)
	if err != nil {
		return err
	}
	for _, path := range files {
		file := rel(o.Root, path)
		r.Workflows = append(r.Workflows, file)
		src, err := readFile(path, workflow.MaxBytes)
		if err != nil {
			return err
		}
		d, err := workflow.Parse(src)
		if err != nil {
			r.Findings = append(r.Findings, parseFinding(CheckWorkflowPolicy, file, err))
			continue
		}
		denies, err := p.Workflow(ctx, WorkflowInput(file, d))
		if err != nil {
			return err
		}
		for _, dn := range denies {
			r.Findings = append(r.Findings, Finding{Check: CheckWorkflowPolicy, Rule: dn.Code, Severity: "HIGH", File: file, Line: dn.Line, Message: dn.Msg})
		}
	}
	r.addCheck(CheckWorkflowPolicy, before, time.Since(start).Seconds(), fmt.Sprintf("%d workflow(s)", len(files)))
	return nil
}

// workflowFiles lists the *.yml and *.yaml files of the workflow directory, sorted.
func workflowFiles(o Options) ([]string, error) {
	dir := filepath.Join(o.Root, o.Workflows)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".yaml")) {
			files = append(files, filepath.Join(dir, n))
		}
	}
	sort.Strings(files)
	return files, nil
}

func parseFinding(check, file string, err error) Finding {
	f := Finding{Check: check, Rule: "SCAN-PARSE", Severity: "HIGH", File: file, Message: "cannot be parsed: " + err.Error()}
	var de *dockerfile.Error
	var we *workflow.Error
	switch {
	case errors.As(err, &de):
		f.Line, f.Message = de.Line, "cannot be parsed: "+de.Msg
	case errors.As(err, &we):
		f.Line, f.Message = we.Line, "cannot be parsed: "+we.Msg
	}
	return f
}
