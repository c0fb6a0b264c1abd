package signoff_test

import (
	"testing"

	"github.com/secure-movie-service/sms/pipeline/signoff"
)

// FuzzVerify feeds attacker bytes to the attestation parser and verifier: it must never
// panic, and whatever it accepts is a reviewer's signed statement about the control's current
// text.
func FuzzVerify(f *testing.F) {
	w := mustWorld(f)
	good := mustSign(f, w.alice, w.reviewers, pentest(), now.Add(-1), "2027-01-01")
	f.Add(good)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if env, payload, err := signoff.ParseEnvelope(raw); err == nil {
			if env.PayloadType != signoff.PayloadType || len(env.Signatures) == 0 {
				t.Fatalf("ParseEnvelope accepted %+v", env)
			}
			_, _ = signoff.ParseStatement(payload)
		}
		a, err := signoff.Verify(raw, pentest(), w.reviewers, now)
		if err != nil {
			return
		}
		if a.KeyID != w.alice.Signer.ID || a.Predicate.Control != "C-PENTEST" {
			t.Fatalf("accepted %+v", a)
		}
	})
}
