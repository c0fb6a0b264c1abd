package signoff_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/signoff"
	"github.com/secure-movie-service/sms/threatmodel"
)

const role = "security lead (external tester)"

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func pentest() threatmodel.Control {
	return threatmodel.Control{ID: "C-PENTEST", Title: "Penetration testing", Kind: threatmodel.ControlManual,
		Description: "A yearly penetration test of the API and the deployment, and after major changes.",
		Attestation: &threatmodel.Attest{Role: role}}
}

type world struct {
	alice, bob, mallory *testkit.Key // alice holds the role, bob another role, mallory is no reviewer
	reviewers           *signoff.Reviewers
}

func mustWorld(tb testing.TB) *world {
	tb.Helper()
	w := &world{alice: testkit.MustKey(tb), bob: testkit.MustKey(tb), mallory: testkit.MustKey(tb)}
	raw := testkit.MustReviewers(tb,
		testkit.Reviewer{Key: w.alice, Name: "Alice Example", Roles: []string{role, "security lead"}},
		testkit.Reviewer{Key: w.bob, Name: "Bob Example", Roles: []string{"operations on-call lead"}})
	var err error
	if w.reviewers, err = signoff.ParseReviewers(raw); err != nil {
		tb.Fatal(err)
	}
	return w
}

func mustSign(tb testing.TB, k *testkit.Key, rs *signoff.Reviewers, c threatmodel.Control, at time.Time, expires string) []byte {
	tb.Helper()
	ev := signoff.Evidence{Name: "pentest-2026.pdf", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}}
	env, _, err := signoff.Sign(k.Signer, rs, signoff.Request{Control: c, Evidence: ev, Expires: expires, Now: at})
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// mustEnvelope signs payload as it is, so a test can attest what Sign would refuse to make.
func mustEnvelope(tb testing.TB, k *testkit.Key, payloadType string, payload []byte) []byte {
	tb.Helper()
	sig, err := k.Signer.SignMessage(bytes.NewReader(signoff.PAE(payloadType, payload)))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(signoff.Envelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []signoff.Signature{{KeyID: k.Signer.ID, Sig: base64.StdEncoding.EncodeToString(sig)}}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mustStatement decodes the statement of an envelope as a generic map to edit.
func mustStatement(tb testing.TB, env []byte) map[string]any {
	tb.Helper()
	var e signoff.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		tb.Fatal(err)
	}
	p, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		tb.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(p, &st); err != nil {
		tb.Fatal(err)
	}
	return st
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestAttestThenVerify(t *testing.T) {
	w := mustWorld(t)
	env := mustSign(t, w.alice, w.reviewers, pentest(), now.Add(-24*time.Hour), "2027-05-31")
	a, err := signoff.Verify(env, pentest(), w.reviewers, now)
	if err != nil {
		t.Fatal(err)
	}
	p := a.Predicate
	if a.KeyID != w.alice.Signer.ID || p.Attester != "Alice Example" || p.Role != role || p.Expires != "2027-05-31" ||
		p.Control != "C-PENTEST" || !p.AttestedAt.Equal(now.Add(-24*time.Hour)) {
		t.Fatalf("attestation %+v", a)
	}
	// The envelope is plain DSSE: sigstore's own DSSE verifier accepts it with the key. (It
	// computes key ids its own way and skips a signature whose keyid differs, so the hint is
	// dropped here; the signature is unchanged.)
	var e signoff.Envelope
	testkit.Must(t, json.Unmarshal(env, &e))
	e.Signatures[0].KeyID = ""
	if err := dsse.WrapVerifier(w.alice.Verifier).VerifySignature(bytes.NewReader(mustJSON(t, e)), nil); err != nil {
		t.Fatalf("sigstore's DSSE verifier refuses it: %v", err)
	}
	st := mustStatement(t, env)
	sub := st["subject"].([]any)[0].(map[string]any)
	if st["predicateType"] != signoff.PredicateType || sub["name"] != "C-PENTEST" ||
		sub["digest"].(map[string]any)["sha256"] != signoff.Digest(pentest()) {
		t.Fatalf("statement %v", st)
	}
	// It holds through its expiry day, and not a second longer.
	if _, err := signoff.Verify(env, pentest(), w.reviewers, time.Date(2027, 5, 31, 23, 59, 59, 0, time.UTC)); err != nil {
		t.Fatalf("on its last day: %v", err)
	}
	if _, err := signoff.Verify(env, pentest(), w.reviewers, time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, signoff.ErrExpired) {
		t.Fatalf("the day after: %v", err)
	}
}

func TestCanonicalText(t *testing.T) {
	c := pentest()
	c.Description = `<a> & "b"`
	got := string(signoff.Canonical(c))
	want := `{"description":"<a> & \"b\"","id":"C-PENTEST","title":"Penetration testing"}`
	if got != want {
		t.Fatalf("canonical text\n got %s\nwant %s", got, want)
	}
	// Only id, title and description count: the role, layer or source may change.
	d := c
	d.Layer, d.Source, d.Attestation = "maintenance", []string{"x"}, &threatmodel.Attest{Role: "x"}
	if signoff.Digest(d) != signoff.Digest(c) {
		t.Fatal("a field outside the text changed the digest")
	}
}

// TestVerifyRejects is evidence for C-MANUAL-SIGNED: every way an attestation can be wrong is
// refused, with a reason that says what is wrong.
func TestVerifyRejects(t *testing.T) {
	w := mustWorld(t)
	good := mustSign(t, w.alice, w.reviewers, pentest(), now.Add(-time.Hour), "2027-05-31")
	resign := func(tb testing.TB, edit func(st map[string]any)) []byte {
		st := mustStatement(tb, good)
		edit(st)
		return mustEnvelope(tb, w.alice, signoff.PayloadType, mustJSON(tb, st))
	}
	pred := func(st map[string]any) map[string]any { return st["predicate"].(map[string]any) }
	for _, tc := range []struct {
		name    string
		env     func(tb testing.TB) []byte
		control func(c *threatmodel.Control)
		want    string
		expired bool
	}{
		{name: "C-MANUAL-SIGNED a key that is not a reviewer's", env: func(tb testing.TB) []byte {
			return mustEnvelope(tb, w.mallory, signoff.PayloadType, []byte(mustPayload(tb, good)))
		}, want: "not signed by a reviewer key"},
		{name: "C-MANUAL-SIGNED a reviewer without the role", env: func(tb testing.TB) []byte {
			return mustEnvelope(tb, w.bob, signoff.PayloadType, resignAs(tb, good, "Bob Example"))
		}, want: `reviewer Bob Example does not hold role "security lead (external tester)"`},
		{name: "C-MANUAL-SIGNED a role other than the control's", env: func(tb testing.TB) []byte {
			return resign(tb, func(st map[string]any) { pred(st)["role"] = "security lead" })
		}, want: `attests role "security lead"; the control needs "security lead (external tester)"`},
		{name: "C-MANUAL-SIGNED an attester that is not the key's reviewer", env: func(tb testing.TB) []byte {
			return resign(tb, func(st map[string]any) { pred(st)["attester"] = "Eve" })
		}, want: `attester "Eve" is not the key's reviewer`},
		{name: "C-MANUAL-SIGNED expired", env: func(tb testing.TB) []byte {
			return mustSign(tb, w.alice, w.reviewers, pentest(), now.AddDate(0, -3, 0), "2026-05-31")
		}, want: "expired on 2026-05-31 (attested by Alice Example", expired: true},
		{name: "C-MANUAL-SIGNED attested in the future", env: func(tb testing.TB) []byte {
			return mustSign(tb, w.alice, w.reviewers, pentest(), now.Add(time.Hour), "2027-05-31")
		}, want: "attested in the future (2026-06-01T13:00:00Z)"},
		{name: "C-MANUAL-SIGNED expiring more than a year after", env: func(tb testing.TB) []byte {
			return resign(tb, func(st map[string]any) { pred(st)["expires"] = "2099-01-01" })
		}, want: "more than 366 days after"},
		{name: "C-MANUAL-SIGNED the control's title changed", env: func(testing.TB) []byte { return good },
			control: func(c *threatmodel.Control) { c.Title = "Penetration testing, sometimes" }, want: "the control's text changed since it was attested"},
		{name: "C-MANUAL-SIGNED the control's description changed", env: func(testing.TB) []byte { return good },
			control: func(c *threatmodel.Control) { c.Description += " Maybe." }, want: "the control's text changed since it was attested"},
		{name: "C-MANUAL-SIGNED another control's attestation", env: func(testing.TB) []byte { return good },
			control: func(c *threatmodel.Control) { c.ID = "C-ACCESS-REVIEW" }, want: `the subject is "C-PENTEST", not C-ACCESS-REVIEW`},
		{name: "C-MANUAL-SIGNED a tampered payload", env: func(tb testing.TB) []byte {
			return swapPayload(tb, good, strings.Replace(mustPayload(tb, good), "2027-05-31", "2027-05-30", 1))
		}, want: "not signed by a reviewer key"},
		{name: "C-MANUAL-SIGNED a tampered signature", env: func(tb testing.TB) []byte {
			var e signoff.Envelope
			testkit.Must(tb, json.Unmarshal(good, &e))
			sig, _ := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
			sig[len(sig)/2] ^= 1
			e.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
			return mustJSON(tb, e)
		}, want: "not signed by a reviewer key"},
		{name: "C-MANUAL-SIGNED the wrong payload type", env: func(tb testing.TB) []byte {
			return mustEnvelope(tb, w.alice, "application/json", []byte(mustPayload(tb, good)))
		}, want: `payload type "application/json"`},
		{name: "C-MANUAL-SIGNED another predicate type", env: func(tb testing.TB) []byte {
			return resign(tb, func(st map[string]any) { st["predicateType"] = "https://slsa.dev/provenance/v1" })
		}, want: "predicateType"},
		{name: "C-MANUAL-SIGNED an unknown predicate field", env: func(tb testing.TB) []byte {
			return resign(tb, func(st map[string]any) { pred(st)["waiver"] = true })
		}, want: `unknown field "waiver"`},
		{name: "C-MANUAL-SIGNED an unknown envelope field", env: func(tb testing.TB) []byte {
			return bytes.Replace(good, []byte(`"payloadType"`), []byte(`"note": "x", "payloadType"`), 1)
		}, want: `unknown field "note"`},
		{name: "C-MANUAL-SIGNED evidence that is neither a file digest nor an https URL", env: func(tb testing.TB) []byte {
			return resign(tb, func(st map[string]any) { pred(st)["evidence"] = map[string]any{"uri": "http://example.com/report"} })
		}, want: "evidence: a URI must be https"},
		{name: "C-MANUAL-SIGNED two subjects", env: func(tb testing.TB) []byte {
			return resign(tb, func(st map[string]any) { st["subject"] = append(st["subject"].([]any), st["subject"].([]any)[0]) })
		}, want: "want one subject"},
		{name: "C-MANUAL-SIGNED not JSON", env: func(testing.TB) []byte { return []byte("PENTEST OK") }, want: "envelope: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pentest()
			if tc.control != nil {
				tc.control(&c)
			}
			a, err := signoff.Verify(tc.env(t), c, w.reviewers, now)
			if err == nil {
				t.Fatalf("accepted: %+v", a)
			}
			if got := errors.Is(err, signoff.ErrExpired); got != tc.expired || errors.Is(err, signoff.ErrRejected) == tc.expired {
				t.Fatalf("expired %v, want %v: %v", got, tc.expired, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
	t.Run("C-MANUAL-SIGNED a duplicate key", func(t *testing.T) {
		dup := bytes.Replace(good, []byte(`"payloadType"`), []byte(`"payloadtype": "text/plain", "payloadType"`), 1)
		if _, err := signoff.Verify(dup, pentest(), w.reviewers, now); err == nil || !strings.Contains(err.Error(), "duplicate key") {
			t.Fatalf("%v", err)
		}
	})
}

func mustPayload(tb testing.TB, env []byte) string {
	tb.Helper()
	var e signoff.Envelope
	testkit.Must(tb, json.Unmarshal(env, &e))
	p, err := base64.StdEncoding.DecodeString(e.Payload)
	testkit.Must(tb, err)
	return string(p)
}

func swapPayload(tb testing.TB, env []byte, payload string) []byte {
	tb.Helper()
	var e signoff.Envelope
	testkit.Must(tb, json.Unmarshal(env, &e))
	e.Payload = base64.StdEncoding.EncodeToString([]byte(payload))
	return mustJSON(tb, e)
}

func resignAs(tb testing.TB, env []byte, attester string) []byte {
	tb.Helper()
	st := mustStatement(tb, env)
	st["predicate"].(map[string]any)["attester"] = attester
	return mustJSON(tb, st)
}

func TestSignRefuses(t *testing.T) {
	w := mustWorld(t)
	tested := pentest()
	tested.Kind, tested.Attestation = threatmodel.ControlTested, nil
	ev := signoff.Evidence{URI: "https://tracker.example/PENTEST-1"}
	for _, tc := range []struct {
		name string
		key  *testkit.Key
		c    threatmodel.Control
		exp  string
		want string
	}{
		{"C-MANUAL-SIGNED a key that is not a reviewer's", w.mallory, pentest(), "2027-01-01", "is not a reviewer key in policy/data"},
		{"C-MANUAL-SIGNED a reviewer without the role", w.bob, pentest(), "2027-01-01", "does not hold role"},
		{"a tested control", w.alice, tested, "2027-01-01", "not a manual control"},
		{"an expiry in the past", w.alice, pentest(), "2026-01-01", "before it was attested"},
		{"a malformed expiry", w.alice, pentest(), "1 June 2027", "not YYYY-MM-DD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := signoff.Sign(tc.key.Signer, w.reviewers, signoff.Request{Control: tc.c, Evidence: ev, Expires: tc.exp, Now: now})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, signoff.ErrRejected) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEvidenceOf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "report.pdf")
	testkit.Must(t, os.WriteFile(p, []byte("findings: none"), 0o600))
	e, err := signoff.EvidenceOf(p)
	sum := sha256.Sum256([]byte("findings: none"))
	if err != nil || e.Name != "report.pdf" || e.Digest["sha256"] != hex.EncodeToString(sum[:]) || len(e.Digest) != 1 {
		t.Fatalf("%+v %v", e, err)
	}
	if e, err := signoff.EvidenceOf("https://tracker.example/SEC-12"); err != nil || e.URI != "https://tracker.example/SEC-12" {
		t.Fatalf("%+v %v", e, err)
	}
	for _, bad := range []string{"http://tracker.example/SEC-12", "ftp://x/y", filepath.Join(t.TempDir(), "absent.pdf")} {
		if e, err := signoff.EvidenceOf(bad); err == nil {
			t.Errorf("%s accepted: %+v", bad, e)
		}
	}
}

func TestCheckDirectory(t *testing.T) {
	w := mustWorld(t)
	dir := t.TempDir()
	write := func(env []byte, at time.Time) string {
		p, err := signoff.Write(dir, "C-PENTEST", env, at)
		testkit.Must(t, err)
		return p
	}
	out, err := signoff.Check(dir, pentest(), w.reviewers, now)
	if err != nil || out.Valid != nil || len(out.Rejected)+len(out.Expired) != 0 {
		t.Fatalf("no attestation: %+v %v", out, err)
	}
	write(mustSign(t, w.alice, w.reviewers, pentest(), now.AddDate(-1, 0, 0), "2026-05-01"), now.AddDate(-1, 0, 0))
	out, _ = signoff.Check(dir, pentest(), w.reviewers, now)
	if out.Valid != nil || len(out.Expired) != 1 || len(out.Rejected) != 0 {
		t.Fatalf("only an expired one: %+v", out)
	}
	fresh := write(mustSign(t, w.alice, w.reviewers, pentest(), now.Add(-time.Hour), "2027-05-01"), now)
	out, _ = signoff.Check(dir, pentest(), w.reviewers, now)
	if out.Valid == nil || out.Valid.File != filepath.ToSlash(fresh) || len(out.Rejected) != 0 {
		t.Fatalf("a fresh one beside the expired one: %+v", out)
	}
	forged := write(mustEnvelope(t, w.mallory, signoff.PayloadType, []byte(mustPayload(t, mustSign(t, w.alice, w.reviewers, pentest(), now, "2027-05-02")))), now.Add(time.Second))
	out, _ = signoff.Check(dir, pentest(), w.reviewers, now)
	if len(out.Rejected) != 1 || out.Rejected[0].File != filepath.ToSlash(forged) || !strings.Contains(out.Rejected[0].Reason, "not signed by a reviewer key") {
		t.Fatalf("a forged one is rejected even beside a valid one: %+v", out)
	}
	if _, err := signoff.Write(dir, "C-PENTEST", []byte("x"), now); err != nil {
		t.Fatal(err)
	}
	if _, err := signoff.Write(dir, "C-PENTEST", []byte("x"), now); err == nil {
		t.Fatal("Write overwrote a file")
	}
}

func TestParseReviewers(t *testing.T) {
	k := testkit.MustKey(t)
	good := string(testkit.MustReviewers(t, testkit.Reviewer{Key: k, Name: "Alice", Roles: []string{"security lead"}}))
	if rs, err := signoff.ParseReviewers([]byte(good)); err != nil || rs.Len() != 1 {
		t.Fatalf("%v", err)
	}
	other := testkit.MustKey(t)
	for _, tc := range []struct{ name, doc, want string }{
		{"a key id that is not the key's", strings.Replace(good, k.Signer.ID, other.Signer.ID, 1), "the public key's id is"},
		{"no name", strings.Replace(good, `"name":"Alice"`, `"name":" "`, 1), "no name"},
		{"no roles", strings.Replace(good, `["security lead"]`, `[]`, 1), "no roles"},
		{"an unknown field", strings.Replace(good, `"name":`, `"admin":true,"name":`, 1), `unknown field "admin"`},
		{"not a key", strings.Replace(good, "PUBLIC KEY", "CERTIFICATE", 2), "public key"},
		{"no reviewers object", `{}`, `no "reviewers" object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := signoff.ParseReviewers([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
