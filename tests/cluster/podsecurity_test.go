package cluster

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	psa "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// podSecurityCodes are policy/admission's reason codes for the Pod Security Standards.
var podSecurityCodes = []string{
	"APPARMOR_UNCONFINED", "CAPABILITIES_ADDED", "CAPABILITIES_NOT_DROPPED", "HOST_IPC", "HOST_NETWORK",
	"HOST_PATH", "HOST_PID", "HOST_PORT", "HOST_PROCESS", "PRIVILEGED", "PRIVILEGE_ESCALATION",
	"PROBE_HOST", "PROC_MOUNT", "RUN_AS_NON_ROOT", "RUN_AS_ROOT_USER", "SECCOMP_MISSING",
	"SECCOMP_UNCONFINED", "SELINUX_TYPE", "SELINUX_USER_ROLE", "SYSCTL_UNSAFE", "VOLUME_TYPE",
}

// otherWorkloadCodes are the workload rules beyond Pod Security; the hardened pod of the table
// never trips them, so they must not appear.
var otherWorkloadCodes = []string{"READ_ONLY_ROOT_FS", "LIMITS_MISSING", "INPUT_INVALID", "KIND_UNSUPPORTED"}

// podKinds are the pod-bearing kinds policy/admission reads; the table's cases take turns.
var podKinds = []string{"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}

// pssCase is one pod of the table. A violating case names the code policy/admission must give
// and the one reason the reference gives; a compliant case names neither; a stricter case is
// one the reference allows and policy/admission denies on purpose (code).
type pssCase struct {
	name     string
	pod      *corev1.Pod
	code     string
	reason   string
	stricter bool
}

// TestPodSecurityReference compares policy/admission, evaluated by the real `pipeline admit`,
// with k8s.io/pod-security-admission at level restricted, latest version: for every field the
// Pod Security Standards name, a violating and a compliant variant, in containers,
// initContainers and ephemeralContainers (and the pod where the field is there too), each
// wrapped in one of the pod-bearing kinds. Every pod the reference refuses is denied with the
// expected reason code; every pod it accepts has no Pod Security finding. No API server needed.
func TestPodSecurityReference(t *testing.T) {
	cases := pssCases()
	ref, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	must(t, err)
	restricted := psa.LevelVersion{Level: psa.LevelRestricted, Version: psa.LatestVersion()}
	ours := admitAll(t, cases)
	for _, c := range cases {
		t.Run("C-ADMISSION-WORKLOAD "+c.name, func(t *testing.T) {
			agg := policy.AggregateCheckResults(ref.EvaluatePod(restricted, &c.pod.ObjectMeta, &c.pod.Spec))
			compare(t, c, agg, ours[c.pod.Name])
		})
	}
	t.Run("every reference check and every code is exercised", func(t *testing.T) {
		exercised(t, cases)
	})
	t.Logf("%d pods compared with k8s.io/pod-security-admission (restricted, %s)", len(cases), restricted.Version)
}

// compare asserts one case: the reference's verdict is the table's, and ours agrees with it.
func compare(t *testing.T, c pssCase, ref policy.AggregateCheckResult, codes []string) {
	t.Helper()
	pss, other := split(codes)
	if len(other) > 0 {
		t.Fatalf("policy/admission gives %v, which the hardened pod never should", other)
	}
	switch {
	case c.code == "":
		if !ref.Allowed || len(pss) > 0 {
			t.Fatalf("compliant variant: reference refuses %q; policy/admission denies %v", ref.ForbiddenReasons, pss)
		}
	case c.stricter:
		if !ref.Allowed || !slices.Equal(pss, []string{c.code}) {
			t.Fatalf("stricter on purpose: reference refuses %q (want allowed); policy/admission denies %v (want %s)",
				ref.ForbiddenReasons, pss, c.code)
		}
	default:
		if !slices.Equal(ref.ForbiddenReasons, []string{c.reason}) {
			t.Fatalf("the table is wrong: reference refuses %q, want exactly %q", ref.ForbiddenReasons, c.reason)
		}
		if !slices.Equal(pss, []string{c.code}) {
			t.Fatalf("reference refuses (%s: %s); policy/admission denies %v, want %s",
				c.reason, ref.ForbiddenDetail(), pss, c.code)
		}
	}
}

// split sorts our codes into Pod Security codes and other workload codes (image codes, which
// the unverified image of the table always has, are dropped).
func split(codes []string) (pss, other []string) {
	for _, c := range codes {
		switch {
		case slices.Contains(podSecurityCodes, c) && !slices.Contains(pss, c):
			pss = append(pss, c)
		case slices.Contains(otherWorkloadCodes, c):
			other = append(other, c)
		}
	}
	sort.Strings(pss)
	return pss, other
}

// exercised: every check the reference has at its latest version refuses at least one
// violating pod of the table (a check added by a newer library fails here until the policy
// and the table cover it), and every Pod Security code is expected by some case.
func exercised(t *testing.T, cases []pssCase) {
	t.Helper()
	for _, chk := range policy.DefaultChecks() {
		latest := chk.Versions[len(chk.Versions)-1].CheckPod
		if !slices.ContainsFunc(cases, func(c pssCase) bool {
			return c.code != "" && !c.stricter && !latest(&c.pod.ObjectMeta, &c.pod.Spec).Allowed
		}) {
			t.Errorf("no case of the table violates the reference's check %s", chk.ID)
		}
	}
	for _, code := range podSecurityCodes {
		if !slices.ContainsFunc(cases, func(c pssCase) bool { return c.code == code && !c.stricter }) {
			t.Errorf("no case of the table expects %s", code)
		}
	}
}

// admitAll runs `pipeline admit --format json` over every case, each wrapped in a kind, in
// manifests of at most 64 documents (admit's limit), and returns the deny codes per pod name.
// The image is pinned but under no allowed registry: admit judges it without fetching it.
func admitAll(t *testing.T, cases []pssCase) map[string][]string {
	t.Helper()
	bin := goBuild(t, "./pipeline/cmd/pipeline")
	dir := t.TempDir()
	key := writePublicKey(t, dir)
	out := map[string][]string{}
	for start := 0; start < len(cases); start += 64 {
		var docs [][]byte
		for i, c := range cases[start:min(start+64, len(cases))] {
			b, err := json.Marshal(wrap(podKinds[(start+i)%len(podKinds)], c.pod))
			must(t, err)
			docs = append(docs, b)
		}
		manifest := filepath.Join(dir, fmt.Sprintf("batch-%d.yaml", start))
		must(t, os.WriteFile(manifest, bytes.Join(docs, []byte("\n---\n")), 0o600))
		for _, r := range admit(t, bin, key, manifest) {
			_, name, _ := strings.Cut(r.Object, "/")
			out[name] = append(out[name], r.Code)
		}
	}
	return out
}

type denyReason struct {
	Code   string `json:"code"`
	Object string `json:"object"`
}

// admit runs one `pipeline admit`; a denial (exit 1) is the expected outcome.
func admit(t *testing.T, bin, key, manifest string) []denyReason {
	t.Helper()
	cmd := exec.Command(bin, "admit", "--key", key, "--manifest", manifest, "--format", "json")
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
		t.Fatalf("pipeline admit: %v\n%s", err, stderr.String())
	}
	var v struct {
		Deny []denyReason `json:"deny"`
	}
	if err := json.Unmarshal(stdout, &v); err != nil {
		t.Fatalf("pipeline admit output: %v\n%s\n%s", err, stdout, stderr.String())
	}
	return v.Deny
}

// writePublicKey writes a fresh ECDSA public key for --key (policy data trusts no such key).
func writePublicKey(t *testing.T, dir string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	must(t, err)
	p := filepath.Join(dir, "cosign.pub")
	must(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))
	return p
}

// wrap puts the pod's metadata and spec where kind keeps its pod template.
func wrap(kind string, pod *corev1.Pod) map[string]any {
	var tmpl map[string]any
	b, _ := json.Marshal(corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec})
	_ = json.Unmarshal(b, &tmpl)
	md := map[string]any{"name": pod.Name}
	switch kind {
	case "Pod":
		return map[string]any{"apiVersion": "v1", "kind": kind, "metadata": tmpl["metadata"], "spec": tmpl["spec"]}
	case "CronJob":
		return map[string]any{"apiVersion": "batch/v1", "kind": kind, "metadata": md,
			"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": tmpl}}}}
	}
	return map[string]any{"kind": kind, "metadata": md, "spec": map[string]any{"template": tmpl}}
}
