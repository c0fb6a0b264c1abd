package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"slices"
	"testing"
)

// FuzzParseJWKS feeds documents to ParseJWKS. It must never panic, and every
// set it accepts must round-trip through MarshalJWKS to the same keys.
func FuzzParseJWKS(f *testing.F) {
	seed := sha256.Sum256([]byte("jwks fuzz"))
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed[:])
	if err != nil {
		f.Fatal(err)
	}
	doc, err := MarshalJWKS(map[string]crypto.PublicKey{
		"ed": ed25519.NewKeyFromSeed(seed[:]).Public(),
		"ec": &ec.PublicKey,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(doc))
	f.Add(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a"}]}`)
	f.Add(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"s"}]}`)
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA","kid":"e"}]}`)
	f.Add(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}],"keys":[]}`)
	f.Add(`{"keys":[]}`)
	f.Add(`[{"keys":{}}]`)
	f.Fuzz(func(t *testing.T, doc string) {
		ks, err := ParseJWKS([]byte(doc))
		if err != nil {
			if ks != nil {
				t.Fatal("key set returned with an error")
			}
			return
		}
		if ks.Len() == 0 {
			t.Fatal("empty key set accepted")
		}
		pubs := map[string]crypto.PublicKey{}
		for kid, k := range ks.keys {
			if kid == "" || kid != k.kid {
				t.Fatalf("key indexed as %q has kid %q", kid, k.kid)
			}
			switch k.alg {
			case algEdDSA:
				pubs[kid] = k.ed
			case algES256:
				pubs[kid] = k.ec
			default:
				t.Fatalf("key %q pins %q", kid, k.alg)
			}
		}
		again, err := MarshalJWKS(pubs)
		if err != nil {
			t.Fatal(err)
		}
		ks2, err := ParseJWKS(again)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, again)
		}
		if !slices.Equal(ks.KeyIDs(), ks2.KeyIDs()) {
			t.Fatalf("kids %q became %q", ks.KeyIDs(), ks2.KeyIDs())
		}
		for kid, k := range ks.keys {
			k2 := ks2.keys[kid]
			if k.alg != k2.alg || (k.ed != nil && !k.ed.Equal(k2.ed)) || (k.ec != nil && !k.ec.Equal(k2.ec)) {
				t.Fatalf("key %q changed in the round trip", kid)
			}
		}
	})
}
