package checks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: movies}
spec:
  template:
    metadata:
      labels: {app.kubernetes.io/name: movies}
    spec:
      containers:
        - name: movies
          image: x
          args: ["-addr", "0.0.0.0:8443", "-tls-cert", "/tls/tls.crt", "-tls-key", "/tls/tls.key"]
          ports:
            - {name: https, containerPort: 8443}
`

const netpol = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: movies}
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: movies}
  policyTypes: [Ingress, Egress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
      ports: [{port: https}]
  egress:
    - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
`

// httpsOut is the import's egress rule: HTTPS to public addresses only.
const httpsOut = `    - to:
        - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16]}
        - ipBlock: {cidr: "::/0", except: ["::1/128", "fc00::/7", "fe80::/10"]}
      ports: [{port: 443}]
`

func mustManifests(tb testing.TB, docs ...string) string {
	tb.Helper()
	root := tb.TempDir()
	dir := filepath.Join(root, ManifestDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(strings.Join(docs, "\n")), 0o600); err != nil {
		tb.Fatal(err)
	}
	return root
}

func TestNetworkPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, netpol, want string
	}{
		{"confined to its port and DNS", netpol, ""},
		{"no policy", "", "no NetworkPolicy in deploy/kubernetes selects the pods of Deployment movies"},
		{"policy for other pods", strings.Replace(netpol, "{app.kubernetes.io/name: movies}", "{app: other}", 1), "no NetworkPolicy"},
		{"ingress only", strings.Replace(netpol, "[Ingress, Egress]", "[Ingress]", 1), "policyTypes must list Ingress and Egress"},
		{"every port in", strings.Replace(netpol, "ports: [{port: https}]", "ports: []", 1), "admits every port"},
		{"every source in", strings.Replace(netpol, "- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]\n      ports", "- ports", 1), "admits every source"},
		{"another port in", strings.Replace(netpol, "{port: https}", "{port: 22}", 1), "admits port 22"},
		{"anything out", strings.Replace(netpol, "{port: 53, protocol: TCP}", "{port: 443}", 1), "egress allows port 443"},
		{"HTTPS to public addresses out", netpol + httpsOut, ""},
		{"HTTPS out to anywhere", netpol + strings.Replace(httpsOut, "except: [10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16]", "except: []", 1), "egress allows port 443"},
		{"HTTPS out to the pod network", netpol + strings.Replace(httpsOut, "10.0.0.0/8, ", "", 1), "egress allows port 443"},
		{"HTTPS out to IPv6 link-local", netpol + strings.Replace(httpsOut, `, "fe80::/10"`, "", 1), "egress allows port 443"},
		{"HTTPS out without a destination", netpol + "    - ports: [{port: 443}]\n", "egress allows port 443"},
		{"HTTPS out to a namespace", netpol + "    - to: [{namespaceSelector: {}}]\n      ports: [{port: 443}]\n", "egress allows port 443"},
		{"plain HTTP to public addresses out", netpol + strings.Replace(httpsOut, "{port: 443}", "{port: 80}", 1), "egress allows port 80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckNetworkPolicy(mustManifests(t, deployment, tc.netpol))(context.Background())
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDeploymentTLS(t *testing.T) {
	if _, err := CheckDeploymentTLS(mustManifests(t, deployment))(context.Background()); err != nil {
		t.Fatal(err)
	}
	env := strings.Replace(deployment, `args: ["-addr", "0.0.0.0:8443", "-tls-cert", "/tls/tls.crt", "-tls-key", "/tls/tls.key"]`,
		"env: [{name: MOVIES_TLS_CERT, value: /c}, {name: MOVIES_TLS_KEY, value: /k}]", 1)
	if _, err := CheckDeploymentTLS(mustManifests(t, env))(context.Background()); err != nil {
		t.Fatalf("TLS from the environment: %v", err)
	}
	for name, doc := range map[string]string{
		"plaintext": strings.Replace(deployment, `, "-tls-cert", "/tls/tls.crt", "-tls-key", "/tls/tls.key"`, "", 1),
		"key only":  strings.Replace(deployment, `"-tls-cert", "/tls/tls.crt", `, "", 1),
	} {
		_, err := CheckDeploymentTLS(mustManifests(t, doc))(context.Background())
		if err == nil || !strings.Contains(err.Error(), "container movies serves plaintext HTTP") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	sidecar := deployment + `        - name: opa
          image: y
          args: ["run", "--server", "--addr=127.0.0.1:8181"]
`
	if _, err := CheckDeploymentTLS(mustManifests(t, sidecar))(context.Background()); err != nil {
		t.Errorf("a loopback sidecar without ports: %v", err)
	}
	diag := strings.Replace(sidecar, `"--addr=127.0.0.1:8181"]`, `"--addr=127.0.0.1:8181", "--diagnostic-addr=:8282"]`, 1) + "          ports: [{containerPort: 8282}]\n"
	if _, err := CheckDeploymentTLS(mustManifests(t, diag))(context.Background()); err != nil {
		t.Errorf("a loopback OPA declaring its diagnostic port: %v", err)
	}
	for name, doc := range map[string]string{
		"its API on every interface":    strings.Replace(diag, "--addr=127.0.0.1:8181", "--addr=0.0.0.0:8181", 1),
		"its API port declared":         strings.Replace(diag, "containerPort: 8282}]", "containerPort: 8282}, {containerPort: 8181}]", 1),
		"a port that is not the diag's": strings.Replace(diag, "containerPort: 8282", "containerPort: 9000", 1),
	} {
		if _, err := CheckDeploymentTLS(mustManifests(t, doc))(context.Background()); err == nil || !strings.Contains(err.Error(), "container opa serves plaintext") {
			t.Errorf("OPA with %s: err = %v", name, err)
		}
	}
	exposed := sidecar + "          ports: [{containerPort: 8181}]\n"
	if _, err := CheckDeploymentTLS(mustManifests(t, exposed))(context.Background()); err == nil || !strings.Contains(err.Error(), "container opa serves plaintext") {
		t.Errorf("a sidecar with a port and no TLS: err = %v", err)
	}
	if _, err := CheckDeploymentTLS(t.TempDir())(context.Background()); err == nil {
		t.Error("no manifests passed")
	}
}

func mustGitRepo(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	if out, err := exec.Command("git", "-C", dir, "init", "-q").CombinedOutput(); err != nil {
		tb.Fatalf("git init: %v %s", err, out)
	}
	return dir
}

func mustPrivateKeyPEM(tb testing.TB) string {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestSecretScan(t *testing.T) {
	key := mustPrivateKeyPEM(t)
	// Token-shaped values are assembled here so that this file itself holds none.
	gh := "ghp_" + strings.Repeat("a1B2", 9)
	aws := "AKIA" + "Q7WZ3ABCDEFGH2JK"
	clean := map[string]string{
		"main.go":            "package main\n// -----BEGIN PRIVATE KEY----- is only a header here\n",
		"policy/x_test.rego": "test_x if { v := \"" + gh + "\" }\n",
		"pub.pem":            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n",
		".gitignore":         "secret.key\n",
		"secret.key":         key, // ignored: never committed
	}
	if _, err := CheckSecrets(mustGitRepo(t, clean))(context.Background()); err != nil {
		t.Fatalf("clean repository: %v", err)
	}
	for name, tc := range map[string]struct{ file, body, want string }{
		"private key":             {"deploy/key.pem", key, "deploy/key.pem:1: PRIVATE KEY"},
		"private key in testdata": {"x/testdata/k.pem", "junk\n" + key, "x/testdata/k.pem:2: PRIVATE KEY"},
		"GitHub token":            {"scripts/ci.sh", "export T=" + gh + "\n", "scripts/ci.sh:1: GitHub token"},
		"AWS key id":              {"config.yaml", "a: 1\nkey: " + aws + "\n", "config.yaml:2: AWS access key id"},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"main.go": "package main\n", tc.file: tc.body}
			_, err := CheckSecrets(mustGitRepo(t, files))(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
