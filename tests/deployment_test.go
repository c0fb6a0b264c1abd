package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"sigs.k8s.io/yaml"

	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// podSpec is what the wiring test reads from deploy/kubernetes/deployment.yaml.
type podSpec struct {
	Containers []struct {
		Name         string   `json:"name"`
		Args         []string `json:"args"`
		VolumeMounts []struct {
			Name      string `json:"name"`
			MountPath string `json:"mountPath"`
		} `json:"volumeMounts"`
		ReadinessProbe struct {
			HTTPGet struct {
				Path string `json:"path"`
			} `json:"httpGet"`
		} `json:"readinessProbe"`
	} `json:"containers"`
	Volumes []struct {
		Name      string `json:"name"`
		ConfigMap *struct {
			Name string `json:"name"`
		} `json:"configMap"`
		Secret *struct {
			SecretName string `json:"secretName"`
		} `json:"secret"`
	} `json:"volumes"`
}

func readDeployment(t *testing.T) podSpec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Spec struct {
			Template struct {
				Spec podSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec
}

// volumeFiles are the ConfigMaps and Secrets deploy/README.md has the operator create, by
// the name the Deployment gives them, as the files the kubelet would mount.
func volumeFiles(t *testing.T, id *identityProvider, token string) map[string]map[string][]byte {
	t.Helper()
	root := repoRoot(t)
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	jwks, err := os.ReadFile(id.jwksPath)
	if err != nil {
		t.Fatal(err)
	}
	sum, rev := sha256.Sum256([]byte(token)), sha256.Sum256(read("policy/api/authz.rego"))
	authz, _ := json.Marshal(map[string]any{
		"movies_opa":    map[string]string{"service_token_sha256": hex.EncodeToString(sum[:])},
		"movies_policy": map[string]string{"revision": hex.EncodeToString(rev[:])},
	})
	cert, key := selfSigned(t)
	return map[string]map[string][]byte{
		"movies-opa-policy": {"api.rego": read("policy/api/authz.rego"), "system.rego": read("policy/system/authz.rego")},
		"movies-opa-authz":  {"data.json": authz},
		"movies-opa-token":  {"token": []byte(token)},
		"movies-tls":        {"tls.crt": cert, "tls.key": key},
		"movies-jwks":       {"jwks.json": jwks},
	}
}

// selfSigned is a serving certificate for 127.0.0.1, PEM encoded.
func selfSigned(t *testing.T) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "movies"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

// mounts writes each volume of the pod into a directory and returns, for each container, a
// function that rewrites its arguments: mount paths become those directories, and the
// addresses in addrs (manifest → loopback) are replaced.
func mounts(t *testing.T, spec podSpec, files map[string]map[string][]byte, addrs map[string]string) map[string]func([]string) []string {
	t.Helper()
	dirs := map[string]string{}
	for _, v := range spec.Volumes {
		dir := filepath.Join(t.TempDir(), v.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		src := ""
		if v.ConfigMap != nil {
			src = v.ConfigMap.Name
		} else if v.Secret != nil {
			src = v.Secret.SecretName
		}
		for name, b := range files[src] {
			writeFile(t, filepath.Join(dir, name), b, 0o600)
		}
		dirs[v.Name] = dir
	}
	out := map[string]func([]string) []string{}
	for _, c := range spec.Containers {
		var pairs []string
		for _, m := range c.VolumeMounts {
			pairs = append(pairs, m.MountPath, dirs[m.Name])
		}
		for from, to := range addrs {
			pairs = append(pairs, from, to)
		}
		r := strings.NewReplacer(pairs...)
		out[c.Name] = func(args []string) []string {
			res := make([]string, len(args))
			for i, a := range args {
				res[i] = r.Replace(a)
			}
			return res
		}
	}
	return out
}

// The Deployment's two containers, started with exactly its arguments and the files the
// README has the operator create (mount paths and listen addresses moved to loopback): OPA
// answers the API's decisions, only with its token, and the API becomes ready.
func TestDeploymentOPASidecarWiring(t *testing.T) {
	if want, got := moduleVersion(t, "go.mod", "github.com/open-policy-agent/opa"), moduleVersion(t, "opa/go.mod", "github.com/open-policy-agent/opa"); want != got {
		t.Fatalf("opa/go.mod pins OPA %s, the toolkit %s: the sidecar would not be the OPA the tests run", got, want)
	}
	spec := readDeployment(t)
	id := newIdentityProvider(t)
	var raw [32]byte
	rand.Read(raw[:])
	token := hex.EncodeToString(raw[:])
	opaAddr, diagAddr, apiAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	rewrite := mounts(t, spec, volumeFiles(t, id, token), map[string]string{
		"127.0.0.1:8181": opaAddr, "=:8282": "=" + diagAddr, "0.0.0.0:8443": apiAddr,
		"https://idp.example.com": id.issuer,
	})
	args := map[string][]string{}
	probes := map[string]string{}
	for _, c := range spec.Containers {
		args[c.Name], probes[c.Name] = rewrite[c.Name](c.Args), c.ReadinessProbe.HTTPGet.Path
	}
	if len(args) != 2 || args["opa"] == nil || args["movies"] == nil {
		t.Fatalf("want the containers movies and opa, got %v", args)
	}
	opa := startProc(t, t.TempDir(), toolBinary(t, "opa"), args["opa"]...)
	waitFor(t, 60*time.Second, "OPA's readiness probe "+probes["opa"], func() bool {
		resp, err := client.Get("http://" + diagAddr + probes["opa"])
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	movies := startProc(t, t.TempDir(), binary(t, "./service/cmd/movies"), args["movies"]...)
	tlsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // #nosec G402 -- the test's own self-signed certificate on loopback
	api := "https://" + apiAddr
	waitFor(t, 30*time.Second, "the API's readiness probe "+probes["movies"], func() bool {
		resp, err := tlsClient.Get(api + probes["movies"])
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	req, _ := newRequest("GET", api+"/v1/movies", id.token(t, "alice", "viewer"), "")
	resp, err := tlsClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a viewer's list through the sidecar: %v %v\n%s\n%s", err, resp, movies.out, opa.out)
	}
	resp.Body.Close()
	// An item read is decided by a compiled residual (POST /v1/compile, the service token).
	req, _ = newRequest("POST", api+"/v1/movies", id.token(t, "ed", "editor"), `{"title":"Metropolis","year":1927,"genres":["Sci-Fi"],"director":"Fritz Lang"}`)
	resp, err = tlsClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("an editor's create: %v %v\n%s", err, resp, movies.out)
	}
	resp.Body.Close()
	req, _ = newRequest("GET", api+resp.Header.Get("Location"), id.token(t, "alice", "viewer"), "")
	resp, err = tlsClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a viewer's read of the movie: %v %v\n%s", err, resp, movies.out)
	}
	resp.Body.Close()
	waitFor(t, 5*time.Second, "the read's audit line, decided by a compiled residual", func() bool {
		return strings.Contains(movies.out.String(), `"route":"/v1/movies/{id}","allow":true`) && strings.Contains(movies.out.String(), `"compiled":true`)
	})
	// OPA itself is on loopback in the pod and refuses everyone but the API.
	resp, err = client.Post("http://"+opaAddr+"/v1/data/movies/authz/decision", "application/json", strings.NewReader(`{"input":{}}`))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an anonymous decision: %v %v", err, resp)
	}
	resp.Body.Close()
}

// moduleVersion is the version a go.mod (relative to the repository root) requires of path.
func moduleVersion(t *testing.T, gomod, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), gomod))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(path) + `\s+(v\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s requires no %s", gomod, path)
	}
	return string(m[1])
}

// The webhook's image as deploy/README.md has the operator build it: daemonless, from this
// tree, with the pipeline binary as its entrypoint, non-root; the binary it holds serves the
// webhook's arguments (its --help lists every flag deploy/webhook/webhook.yaml passes).
func TestWebhookImageBuildsAsDocumented(t *testing.T) {
	w := newSCWorld(t)
	lay := filepath.Join(t.TempDir(), "layout")
	out, stderr, code := scRun(t, w.root, w.pipeline, "build", "--module", ".", "--package", "./pipeline/cmd/pipeline",
		"--binary", "/pipeline", "--oci-layout", lay, "--cache-dir", "")
	if code != 0 {
		t.Fatalf("pipeline build exit %d: %s", code, stderr)
	}
	p, err := layout.FromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(strings.TrimSpace(out[strings.LastIndex(out, "@")+1:]))
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(h)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil || cf.Config.User != "65532:65532" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pipeline" {
		t.Fatalf("config %+v %v", cf, err)
	}
	bin := filepath.Join(t.TempDir(), "pipeline")
	if err := vuln.ExtractFile(img, "/pipeline", bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	_, help, _ := scRun(t, w.root, bin, "admit", "serve", "--help")
	manifest, err := os.ReadFile(filepath.Join(w.root, "deploy", "webhook", "webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+- (--[a-z-]+)=`).FindAllStringSubmatch(string(manifest), -1) {
		if !strings.Contains(help, "-"+strings.TrimLeft(m[1], "-")+" ") {
			t.Errorf("the image's pipeline admit serve has no %s:\n%s", m[1], help)
		}
	}
}
