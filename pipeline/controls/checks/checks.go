// Package checks holds the pipeline checks that the threat model names as check:<name>
// evidence and that no other pipeline command runs: the deployment manifests' network policy
// and TLS, and a scan of the repository for committed secrets. Each check reads the
// repository and returns nil when the control is in place, or an error that says what is
// missing, file and line where there is one.
package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Names of the checks.
const (
	NetworkPolicy = "network-policy" // a NetworkPolicy confines the API pods to their port in, DNS and public HTTPS out
	DeploymentTLS = "deployment-tls" // the deployed API serves HTTPS only
	SecretScan    = "secret-scan"    // no private key or live token is committed
)

// ManifestDir is where the deployment manifests live, relative to the root.
const ManifestDir = "deploy/kubernetes"

// object is the part of a Kubernetes object the checks read.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
	file string
}

type podTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Containers []container `yaml:"containers"`
	} `yaml:"spec"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
}

// manifests reads every object of every YAML file in dir.
func manifests(dir string) ([]object, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s", dir)
	}
	var out []object
	for _, f := range files {
		b, err := os.ReadFile(f) // #nosec G304 -- a manifest of the repository being checked
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o object
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			o.file = filepath.Base(f)
			out = append(out, o)
		}
	}
	return out, nil
}

// apiPods returns the pod templates of the workloads in the manifests, with the file each is in.
func apiPods(objs []object) ([]podTemplate, []string, error) {
	var pods []podTemplate
	var where []string
	for _, o := range objs {
		switch o.Kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
			var spec struct {
				Template podTemplate `yaml:"template"`
			}
			if err := o.Spec.Decode(&spec); err != nil {
				return nil, nil, fmt.Errorf("%s %s: %w", o.Kind, o.Metadata.Name, err)
			}
			pods = append(pods, spec.Template)
			where = append(where, fmt.Sprintf("%s %s (%s)", o.Kind, o.Metadata.Name, o.file))
		}
	}
	if len(pods) == 0 {
		return nil, nil, errors.New("no workload (Deployment, StatefulSet, …) in the manifests")
	}
	return pods, where, nil
}

// CheckNetworkPolicy passes when every workload in deploy/kubernetes is selected by a
// NetworkPolicy that governs both ingress and egress, admits traffic only from named sources
// (the ingress controller's namespace) and only to the pod's own container ports, and lets it
// out only to DNS and to HTTPS on public addresses.
func CheckNetworkPolicy(root string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		objs, err := manifests(filepath.Join(root, ManifestDir))
		if err != nil {
			return "", err
		}
		pods, where, err := apiPods(objs)
		if err != nil {
			return "", err
		}
		var problems []string
		for i, pod := range pods {
			selected, reasons, err := podNetworkPolicies(objs, pod)
			if err != nil {
				return "", err
			}
			switch {
			case !selected:
				problems = append(problems, fmt.Sprintf("no NetworkPolicy in %s selects the pods of %s (labels %v)", ManifestDir, where[i], pod.Metadata.Labels))
			case len(reasons) > 0:
				problems = append(problems, where[i]+": "+strings.Join(reasons, "; "))
			}
		}
		if len(problems) > 0 {
			return "", errors.New(strings.Join(problems, "; "))
		}
		return fmt.Sprintf("%d workload(s), each selected by a NetworkPolicy that limits its ingress and egress", len(pods)), nil
	}
}

// networkPolicy is what CheckNetworkPolicy reads of a NetworkPolicy's spec.
type networkPolicy struct {
	PodSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"podSelector"`
	PolicyTypes []string `yaml:"policyTypes"`
	Ingress     []struct {
		From  []map[string]any `yaml:"from"`
		Ports []struct {
			Port any `yaml:"port"`
		} `yaml:"ports"`
	} `yaml:"ingress"`
	Egress []struct {
		To []struct {
			IPBlock *struct {
				CIDR   string   `yaml:"cidr"`
				Except []string `yaml:"except"`
			} `yaml:"ipBlock"`
		} `yaml:"to"`
		Ports []struct {
			Port any `yaml:"port"`
		} `yaml:"ports"`
	} `yaml:"egress"`
}

// podNetworkPolicies reports whether any NetworkPolicy selects the pod and, unless one of
// them is tight enough, what is wrong with each.
func podNetworkPolicies(objs []object, pod podTemplate) (selected bool, reasons []string, err error) {
	ports := map[string]bool{}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			ports[fmt.Sprint(p.ContainerPort)] = true
			if p.Name != "" {
				ports[p.Name] = true
			}
		}
	}
	for _, o := range objs {
		if o.Kind != "NetworkPolicy" {
			continue
		}
		var np networkPolicy
		if err := o.Spec.Decode(&np); err != nil {
			return false, nil, fmt.Errorf("NetworkPolicy %s: %w", o.Metadata.Name, err)
		}
		if !selects(np.PodSelector.MatchLabels, pod.Metadata.Labels) {
			continue
		}
		selected = true
		bad := np.problems(ports)
		if len(bad) == 0 {
			return true, nil, nil
		}
		reasons = append(reasons, fmt.Sprintf("NetworkPolicy %s (%s): %s", o.Metadata.Name, o.file, strings.Join(bad, "; ")))
	}
	return selected, reasons, nil
}

// problems lists what lets more through than the pod's ports in, and DNS and public HTTPS out.
func (np networkPolicy) problems(ports map[string]bool) []string {
	var bad []string
	if !contains(np.PolicyTypes, "Ingress") || !contains(np.PolicyTypes, "Egress") {
		bad = append(bad, "policyTypes must list Ingress and Egress")
	}
	for _, r := range np.Ingress {
		if len(r.Ports) == 0 {
			bad = append(bad, "an ingress rule admits every port")
		}
		if len(r.From) == 0 {
			bad = append(bad, "an ingress rule admits every source (no from)")
		}
		for _, p := range r.Ports {
			if !ports[fmt.Sprint(p.Port)] {
				bad = append(bad, fmt.Sprintf("ingress admits port %v, which no container serves", p.Port))
			}
		}
	}
	for _, r := range np.Egress {
		if len(r.Ports) == 0 {
			bad = append(bad, "an egress rule allows every port")
		}
		public := len(r.To) > 0
		for _, to := range r.To {
			public = public && to.IPBlock != nil && excludesNonPublic(to.IPBlock.CIDR, to.IPBlock.Except)
		}
		for _, p := range r.Ports {
			switch port := fmt.Sprint(p.Port); {
			case port == "53":
			case port == "443" && public:
			default:
				bad = append(bad, fmt.Sprintf("egress allows port %v (only DNS, 53, and HTTPS, 443, to public addresses)", p.Port))
			}
		}
	}
	return bad
}

// nonPublic are the ranges an egress rule to the internet must except: what the service's
// egress guard refuses to dial (private, shared, link-local, loopback). IPv4-mapped IPv6
// addresses are the IPv4 rule's to except (the API server refuses ::ffff:0:0/96 in an ipBlock).
var nonPublic = map[string][]string{
	"v4": {"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"},
	"v6": {"::1/128", "fc00::/7", "fe80::/10"},
}

// excludesNonPublic: the block excepts every non-public range of its address family that it
// would otherwise contain.
func excludesNonPublic(cidr string, except []string) bool {
	block, err := netip.ParsePrefix(cidr)
	if err != nil {
		return false
	}
	family := "v6"
	if block.Addr().Is4() {
		family = "v4"
	}
	for _, r := range nonPublic[family] {
		p := netip.MustParsePrefix(r)
		if block.Overlaps(p) && !slices.Contains(except, r) {
			return false
		}
	}
	return true
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CheckDeploymentTLS passes when every container of every workload in deploy/kubernetes that
// serves beyond its pod (declares a port) is given a certificate and key (-tls-cert/-tls-key,
// or MOVIES_TLS_CERT/MOVIES_TLS_KEY): with both, the server serves HTTPS only. A sidecar that
// declares no port (OPA on loopback) is reachable only from inside the pod; OPA may declare
// the port of its --diagnostic-addr, which serves /health and /metrics only, when its API
// (--addr) listens on loopback.
func CheckDeploymentTLS(root string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		objs, err := manifests(filepath.Join(root, ManifestDir))
		if err != nil {
			return "", err
		}
		pods, where, err := apiPods(objs)
		if err != nil {
			return "", err
		}
		var problems []string
		for i, pod := range pods {
			for _, c := range pod.Spec.Containers {
				if len(c.Ports) > 0 && !servesTLS(c) && !diagnosticOnly(c) {
					problems = append(problems, fmt.Sprintf("%s: container %s serves plaintext HTTP (no -tls-cert and -tls-key, nor MOVIES_TLS_CERT and MOVIES_TLS_KEY)", where[i], c.Name))
				}
			}
		}
		if len(problems) > 0 {
			return "", errors.New(strings.Join(problems, "; "))
		}
		return fmt.Sprintf("%d workload(s): every container that declares a port serves HTTPS (or only OPA's diagnostics)", len(pods)), nil
	}
}

// flags are a container's --name=value arguments and environment variables, by name.
func flags(c container) map[string]string {
	has := map[string]string{}
	for _, a := range c.Args {
		name, v, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		has[name] = v
	}
	for _, e := range c.Env {
		has[e.Name] = e.Value
	}
	return has
}

// servesTLS: the movies server is given both a certificate and a key.
func servesTLS(c container) bool {
	f := flags(c)
	_, cert := f["tls-cert"]
	_, key := f["tls-key"]
	_, envCert := f["MOVIES_TLS_CERT"]
	_, envKey := f["MOVIES_TLS_KEY"]
	return (cert || envCert) && (key || envKey)
}

// diagnosticOnly: an OPA whose API listens on loopback and whose every declared port is its
// diagnostic address's (health and metrics, no decisions or data).
func diagnosticOnly(c container) bool {
	f := flags(c)
	host, _, err := net.SplitHostPort(f["addr"])
	if err != nil || !slices.Contains(c.Args, "run") || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		return false
	}
	_, diag, err := net.SplitHostPort(f["diagnostic-addr"])
	if err != nil {
		return false
	}
	for _, p := range c.Ports {
		if fmt.Sprint(p.ContainerPort) != diag {
			return false
		}
	}
	return true
}

var (
	privateKeyBlock = regexp.MustCompile(`-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----\r?\n(?:[A-Za-z0-9-]+: [^\n]*\r?\n)*\r?\n?([A-Za-z0-9+/=\r\n]{64,})-----END `)
	tokenPatterns   = []struct {
		name string
		re   *regexp.Regexp
	}{
		{"AWS access key id", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
		{"GitHub token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b`)},
		{"Slack token", regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}\b`)},
		{"Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
		{"signed JWT", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}`)},
	}
)

// isTestFile says whether a path is test code or test data, where token-shaped strings are
// fixtures (a private key block is reported everywhere).
func isTestFile(p string) bool {
	return strings.HasSuffix(p, "_test.go") || strings.HasSuffix(p, "_test.rego") ||
		strings.Contains("/"+p, "/testdata/")
}

// maxScanFile bounds the files the secret scan reads.
const maxScanFile = 2 << 20

// CheckSecrets passes when no file that git tracks or would add (ignored files excluded)
// holds a PEM private key with its body, or — outside tests and test data — a token in a
// well-known live format.
func CheckSecrets(root string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		out, err := exec.CommandContext(ctx, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output() // #nosec G204 -- fixed git command; the root is the operator's
		if err != nil {
			return "", fmt.Errorf("git ls-files: %w", err)
		}
		var findings []string
		files := 0
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if f == "" {
				continue
			}
			files++
			found, err := scanFile(filepath.Join(root, f), f)
			if err != nil {
				return "", err
			}
			findings = append(findings, found...)
		}
		if len(findings) > 0 {
			sort.Strings(findings)
			return "", fmt.Errorf("%d committed secrets: %s", len(findings), strings.Join(findings, "; "))
		}
		return fmt.Sprintf("%d files that git tracks or would add: no private key or live token", files), nil
	}
}

func scanFile(path, rel string) ([]string, error) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxScanFile {
		return nil, nil // deleted in the work tree, a link, or too large to be source
	}
	b, err := os.ReadFile(path) // #nosec G304 -- a file git lists in the repository being scanned
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, nil // binary
	}
	line := func(off int) int { return bytes.Count(b[:off], []byte("\n")) + 1 }
	var out []string
	for _, m := range privateKeyBlock.FindAllSubmatchIndex(b, -1) {
		out = append(out, fmt.Sprintf("%s:%d: %s", rel, line(m[0]), b[m[2]:m[3]]))
	}
	if isTestFile(rel) {
		return out, nil
	}
	for _, p := range tokenPatterns {
		for _, m := range p.re.FindAllIndex(b, -1) {
			out = append(out, fmt.Sprintf("%s:%d: %s", rel, line(m[0]), p.name))
		}
	}
	return out, nil
}
