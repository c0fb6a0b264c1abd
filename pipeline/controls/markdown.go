package controls

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/secure-movie-service/sms/threatmodel"
)

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "<", "&lt;")
	return s
}

func mdStatus(s string) string {
	switch s {
	case StatusPass:
		return "✅ pass"
	case StatusSkip:
		return "⚠️ skipped"
	case StatusMissing:
		return "⏳ attestation missing"
	}
	return "❌ fail"
}

// mermaidID turns a model id into a Mermaid node id.
func mermaidID(id string) string { return strings.ReplaceAll(id, "-", "_") }

func mermaidText(s string) string {
	s = strings.ReplaceAll(s, `"`, "#quot;")
	return s
}

// Mermaid returns the data-flow diagram: trust boundaries as subgraphs, components as nodes
// (shaped by kind), data flows as edges; a flow with a failing control is drawn red.
func (r *Report) Mermaid() string {
	m := r.model
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, tb := range m.TrustBoundaries {
		fmt.Fprintf(&b, "  subgraph %s[\"%s: %s\"]\n", mermaidID(tb.ID), tb.ID, mermaidText(tb.Name))
		for _, c := range m.Components {
			if c.Boundary != tb.ID {
				continue
			}
			open, close := `["`, `"]`
			switch c.Kind {
			case threatmodel.KindProcess:
				open, close = `("`, `")`
			case threatmodel.KindDataStore:
				open, close = `[("`, `")]`
			case threatmodel.KindPerson:
				open, close = `(["`, `"])`
			}
			fmt.Fprintf(&b, "    %s%s%s%s\n", mermaidID(c.ID), open, mermaidText(c.Name), close)
		}
		b.WriteString("  end\n")
	}
	status := map[string]string{}
	for _, c := range r.Controls {
		status[c.ID] = c.Status
	}
	var red []int
	for i, f := range m.DataFlows {
		label := f.ID + ": " + f.Protocol
		for _, c := range f.Controls {
			if status[c] != StatusPass {
				red = append(red, i)
				label += " ⚠"
				break
			}
		}
		fmt.Fprintf(&b, "  %s -->|\"%s\"| %s\n", mermaidID(f.From), mermaidText(label), mermaidID(f.To))
	}
	for _, tb := range m.TrustBoundaries {
		fmt.Fprintf(&b, "  style %s stroke-dasharray: 6 4\n", mermaidID(tb.ID))
	}
	for _, i := range red {
		fmt.Fprintf(&b, "  linkStyle %d stroke:#d33,stroke-width:2px\n", i)
	}
	return b.String()
}

// Markdown renders the report for GitHub: summary, data-flow diagram, threats, the
// traceability matrix (controls × threats), failures, manual controls and every evidence id.
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	r.markdownSummary(&b)
	r.markdownFlows(&b)
	r.markdownThreats(&b)
	r.markdownMatrix(&b)
	r.markdownFindings(&b)
	r.markdownAttested(&b)
	r.markdownEvidence(&b)
	return b.Bytes()
}

// markdownSummary writes the verdict and the run's figures.
func (r *Report) markdownSummary(b *bytes.Buffer) {
	s := r.Summary
	verdict := "✅ every control holds"
	if r.Passed && s.AttestationsMissing > 0 {
		verdict = fmt.Sprintf("✅ every tested control holds; ⏳ %d attestations missing", s.AttestationsMissing)
	}
	if !r.Passed {
		verdict = fmt.Sprintf("❌ %d findings", s.Findings)
	}
	fmt.Fprintf(b, "# Threat model verification: %s\n\n", verdict)
	rev := r.Revision
	if rev == "" {
		rev = "unknown"
	}
	if r.Dirty {
		rev += " (with uncommitted changes)"
	}
	fmt.Fprintf(b, "| | |\n|---|---|\n")
	fmt.Fprintf(b, "| model | `%s` `%s` |\n| revision | `%s` |\n| run | %s, %.1fs (go test %.1fs over %d packages, rego %.1fs over %d packages) |\n",
		r.Model, r.ModelDigest, rev, r.Started.Format("2006-01-02 15:04:05Z"), r.Seconds, r.GoSeconds, len(r.GoPackages), r.RegoSeconds, len(r.RegoPackages))
	fmt.Fprintf(b, "| threats | %d/%d hold |\n| tested controls | %d/%d hold |\n| manual controls | %d/%d attested and current |\n| platform controls | %d/%d verified |\n| evidence | %d/%d pass |\n| attestations missing | %d%s |\n\n",
		s.ThreatsPassing, s.Threats, s.TestedPassing, s.Tested, s.ManualPassing, s.Manual, s.PlatformPassing, s.Platform,
		s.EvidencePassing, s.Evidence, s.AttestationsMissing, missingList(r.AttestationsMissing))
}

// markdownFlows writes the data-flow diagram and table (with the model only).
func (r *Report) markdownFlows(b *bytes.Buffer) {
	if r.model == nil {
		return
	}
	b.WriteString("## Data flows and trust boundaries\n\n")
	b.WriteString("Dashed boxes are trust boundaries; a red edge has a control that does not hold.\n\n")
	b.WriteString("```mermaid\n" + r.Mermaid() + "```\n\n")
	b.WriteString("| flow | from → to | data | protocol | controls |\n|---|---|---|---|---|\n")
	for _, f := range r.model.DataFlows {
		var cs []string
		for _, c := range f.Controls {
			cr, _ := r.control(c)
			cs = append(cs, fmt.Sprintf("%s %s", c, statusIcon(cr.Status)))
		}
		fmt.Fprintf(b, "| %s | %s → %s | %s | %s | %s |\n", f.ID, f.From, f.To, mdEscape(f.Data), mdEscape(f.Protocol), strings.Join(cs, ", "))
	}
	b.WriteString("\n")
}

// markdownThreats writes each threat with how many of its controls hold.
func (r *Report) markdownThreats(b *bytes.Buffer) {
	b.WriteString("## Threats\n\n| threat | STRIDE | CWE | likelihood | impact | controls | status |\n|---|---|---|---|---|---|---|\n")
	for _, t := range r.Threats {
		pass := 0
		for _, c := range t.Controls {
			if cr, ok := r.control(c); ok && cr.Status == StatusPass {
				pass++
			}
		}
		fmt.Fprintf(b, "| **%s** %s | %s | %s | %s | %s | %d/%d hold | %s |\n", t.ID, mdEscape(t.Title),
			strings.Join(t.STRIDE, ", "), strings.Join(t.CWE, ", "), t.Likelihood, mdEscape(t.Impact), pass, len(t.Controls), mdStatus(t.Status))
	}
}

// markdownMatrix writes the traceability matrix, controls × threats.
func (r *Report) markdownMatrix(b *bytes.Buffer) {
	b.WriteString("\n## Traceability matrix\n\n● = the threat names the control. Evidence counts passing/total; manual and platform controls are reported apart below.\n\n")
	b.WriteString("| control | layer | kind |")
	for _, t := range r.Threats {
		fmt.Fprintf(b, " %s |", t.ID)
	}
	b.WriteString(" evidence | status |\n|---|---|---|")
	b.WriteString(strings.Repeat("---|", len(r.Threats)+2) + "\n")
	for _, c := range r.Controls {
		fmt.Fprintf(b, "| [%s](#%s) %s | %s | %s |", c.ID, strings.ToLower(c.ID), mdEscape(c.Title), c.Layer, c.Kind)
		for _, t := range r.Threats {
			if slices.Contains(t.Controls, c.ID) {
				b.WriteString(" ● |")
			} else {
				b.WriteString(" |")
			}
		}
		fmt.Fprintf(b, " %s | %s |\n", r.evidenceCount(c), mdStatus(c.Status))
	}
}

// markdownFindings lists the findings, when there are any.
func (r *Report) markdownFindings(b *bytes.Buffer) {
	if len(r.Findings) > 0 {
		b.WriteString("\n## Findings\n\n")
		for _, f := range r.Findings {
			fmt.Fprintf(b, "- `%s` %s\n", f.Rule, mdEscape(f.String()))
		}
	}
}

// markdownEvidence writes every tested and platform control's evidence, open when it fails.
func (r *Report) markdownEvidence(b *bytes.Buffer) {
	b.WriteString("\n## Evidence by control\n\n")
	for _, c := range r.Controls {
		if c.Kind == threatmodel.ControlManual {
			continue
		}
		open := ""
		if c.Status != StatusPass {
			open = " open"
		}
		fmt.Fprintf(b, "<details%s><summary><a id=\"%s\"></a><b>%s</b> %s: %s (%s)</summary>\n\n",
			open, strings.ToLower(c.ID), c.ID, mdEscape(c.Title), mdStatus(c.Status), r.evidenceCount(c))
		fmt.Fprintf(b, "Answers %s. `threatmodel.yaml` line %d.\n\n", strings.Join(c.Threats, ", "), c.Line)
		for _, e := range c.Evidence {
			fmt.Fprintf(b, "- %s `%s`", statusIcon(e.Status), e.ID)
			if e.Detail != "" {
				fmt.Fprintf(b, ": %s", mdEscape(e.Detail))
			}
			b.WriteString("\n")
		}
		for _, reason := range c.Reasons {
			if !strings.HasPrefix(reason, "evidence ") {
				fmt.Fprintf(b, "- ❌ %s\n", mdEscape(reason))
			}
		}
		if c.Pending != "" && c.Status != StatusPass {
			fmt.Fprintf(b, "\n*Pending:* %s\n", mdEscape(c.Pending))
		}
		b.WriteString("\n</details>\n")
	}
}

// markdownAttested writes the manual and platform controls: who attested and until when, or
// what the platform showed, and a plain list of the attestations still missing.
func (r *Report) markdownAttested(b *bytes.Buffer) {
	b.WriteString("\n## Attested and platform controls\n\nReported apart and never counted as tested. A manual control holds through a signed attestation by a reviewer key of `policy/data/reviewers.json` holding its role; a platform control through what GitHub shows.\n\n")
	b.WriteString("| control | kind | role or check | attested by | attested | valid until | evidence | status |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Controls {
		if c.Kind != threatmodel.ControlManual && c.Kind != threatmodel.ControlPlatform {
			continue
		}
		who, when, until, what := "", "", "", ""
		if a := c.Attestation; a != nil {
			who, when, until, what = a.Attester, a.AttestedAt.UTC().Format("2006-01-02"), a.Expires, a.Evidence
		}
		scope := c.Role
		if c.Kind == threatmodel.ControlPlatform {
			scope = "`" + c.Check + "`"
			for _, e := range c.Evidence {
				if e.Kind == "platform" {
					what = e.Detail
				}
			}
		}
		fmt.Fprintf(b, "| %s %s | %s | %s | %s | %s | %s | %s | %s |\n", c.ID, mdEscape(c.Title), c.Kind, mdEscape(scope),
			dash(who), dash(when), dash(until), dash(what), mdStatus(c.Status))
	}
	for _, c := range r.Controls {
		for _, e := range c.Evidence {
			if e.Kind == "attestation" && e.Status == StatusFail {
				fmt.Fprintf(b, "\n- ❌ **%s** rejected `%s`: %s", c.ID, strings.TrimPrefix(e.ID, "attestation:"), mdEscape(e.Detail))
			}
		}
	}
	fmt.Fprintf(b, "\n### Attestations missing: %d\n\n", len(r.AttestationsMissing))
	if len(r.AttestationsMissing) == 0 {
		b.WriteString("None: every manual control is attested and every platform control verified.\n")
	}
	for _, m := range r.AttestationsMissing {
		fmt.Fprintf(b, "- **%s** (%s): %s\n", m.Control, m.Kind, mdEscape(m.Reason))
	}
}

func missingList(ms []MissingAttestation) string {
	if len(ms) == 0 {
		return ""
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.Control
	}
	return ": " + strings.Join(ids, ", ")
}

func statusIcon(s string) string {
	switch s {
	case StatusPass:
		return "✅"
	case StatusSkip:
		return "⚠️"
	}
	return "❌"
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return mdEscape(s)
}
