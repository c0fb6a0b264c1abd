// Package sigstoretest is an offline Sigstore for tests: sigstore-go's VirtualSigstore
// (pkg/testing/ca) supplies the Rekor log that signs entry timestamps and the timestamp
// authority; this package adds the Fulcio CA and CT log that VirtualSigstore's own leaf
// certificates lack for our purposes — a URI subject, the GitHub workflow extensions and an
// embedded SCT — and writes cosign's tag-based keyless material (certificate, chain and Rekor
// bundle annotations) onto images in a registry. Every key is generated in the test.
package sigstoretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	"net/url"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/secure-movie-service/sms/pipeline/keyless"
)

// TB is what the helpers need of a test: testing.TB, or a command's stand-in that exits.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// The release workflow's identity, the positive case of the tests.
const (
	Issuer  = "https://token.actions.githubusercontent.com"
	Subject = "https://github.com/secure-movie-service/sms/.github/workflows/release.yml@refs/tags/v1.2.3"
)

// ReleaseClaims are the GitHub claims of the release workflow's certificate.
var ReleaseClaims = keyless.GitHub{
	Repository: "https://github.com/secure-movie-service/sms", Ref: "refs/tags/v1.2.3",
	Trigger: "push", WorkflowSHA: "0123456789abcdef0123456789abcdef01234567",
}

// Sigstore is one test instance: a Fulcio CA (root and intermediate), a CT log, and
// VirtualSigstore's Rekor and timestamp authority.
type Sigstore struct {
	vs        *ca.VirtualSigstore
	root      *x509.Certificate
	inter     *x509.Certificate
	interKey  *ecdsa.PrivateKey
	ctKey     *ecdsa.PrivateKey
	serial    int64
	validFrom time.Time
}

// New makes a test instance.
func New(tb TB) *Sigstore {
	tb.Helper()
	vs, err := ca.NewVirtualSigstore()
	must(tb, err)
	s := &Sigstore{vs: vs, validFrom: time.Now().Add(-5 * time.Hour)}
	s.root, s.interKey, err = ca.GenerateRootCa()
	must(tb, err)
	rootKey := s.interKey
	s.inter, s.interKey, err = ca.GenerateFulcioIntermediate(s.root, rootKey)
	must(tb, err)
	s.ctKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(tb, err)
	return s
}

// Foreign is another Fulcio CA and CT log that log to this instance's Rekor: what an
// attacker with a CA of their own, but the same public log, would make.
func (s *Sigstore) Foreign(tb TB) *Sigstore {
	tb.Helper()
	f := New(tb)
	f.vs = s.vs
	return f
}

// TrustedRoot is the instance's trusted root, as trusted_root.json holds it.
func (s *Sigstore) TrustedRoot(tb TB) []byte {
	tb.Helper()
	fulcio := &root.FulcioCertificateAuthority{
		Root: s.root, Intermediates: []*x509.Certificate{s.inter}, URI: "https://fulcio.test",
		ValidityPeriodStart: s.validFrom,
	}
	ctID := keyID(tb, s.ctKey.Public())
	ctlogs := map[string]*root.TransparencyLog{hex.EncodeToString(ctID): {
		BaseURL: "https://ctfe.test", ID: ctID, HashFunc: crypto.SHA256, PublicKey: s.ctKey.Public(),
		SignatureHashFunc: crypto.SHA256, ValidityPeriodStart: s.validFrom,
	}}
	rekor := map[string]*root.TransparencyLog{}
	for id, l := range s.vs.RekorLogs() {
		raw, err := hex.DecodeString(id)
		must(tb, err)
		cp := *l
		cp.ID, cp.ValidityPeriodStart, cp.ValidityPeriodEnd = raw, s.validFrom, time.Time{}
		rekor[id] = &cp
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{fulcio}, ctlogs, s.vs.TimestampingAuthorities(), rekor)
	must(tb, err)
	b, err := tr.MarshalJSON()
	must(tb, err)
	return b
}

// Identity is who a test certificate names.
type Identity struct {
	Issuer, Subject string
	GitHub          keyless.GitHub
}

// Release is the release workflow's identity.
func Release() Identity { return Identity{Issuer: Issuer, Subject: Subject, GitHub: ReleaseClaims} }

// Extension OIDs Fulcio uses (DER UTF8String values).
var (
	oidIssuerV1    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidSourceRepo  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12}
	oidSourceSHA   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 13}
	oidSourceRef   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 14}
	oidTrigger     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 20}
	oidSCTList     = asn1.ObjectIdentifier(ctx509.OIDExtensionCTSCT)
	leafValidity   = 10 * time.Minute
	certLifetimeOK = time.Minute // before the entry is logged
)

// Leaf issues a Fulcio-style code-signing certificate for id, valid from notBefore for ten
// minutes, with an SCT from the instance's CT log embedded.
func (s *Sigstore) Leaf(tb TB, id Identity, notBefore time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	return s.leaf(tb, id, notBefore, true)
}

func (s *Sigstore) leaf(tb TB, id Identity, notBefore time.Time, withSCT bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(tb, err)
	u, err := url.Parse(id.Subject)
	must(tb, err)
	s.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(s.serial), NotBefore: notBefore, NotAfter: notBefore.Add(leafValidity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs: []*url.URL{u},
	}
	// Fulcio still writes the deprecated v1 issuer (raw bytes) beside the v2 one, and cosign v2
	// reads only that one for --certificate-oidc-issuer.
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ctPkixExt(oidIssuerV1, []byte(id.Issuer)))
	for _, e := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{{oidIssuerV2, id.Issuer}, {oidSourceRepo, id.GitHub.Repository}, {oidSourceSHA, id.GitHub.WorkflowSHA},
		{oidSourceRef, id.GitHub.Ref}, {oidTrigger, id.GitHub.Trigger}} {
		if e.v == "" {
			continue
		}
		val, err := asn1.MarshalWithParams(e.v, "utf8")
		must(tb, err)
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ctPkixExt(e.oid, val))
	}
	pre, err := x509.CreateCertificate(rand.Reader, tmpl, s.inter, key.Public(), s.interKey)
	must(tb, err)
	preCert, err := x509.ParseCertificate(pre)
	must(tb, err)
	if !withSCT {
		return preCert, key
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ctPkixExt(oidSCTList, s.sctList(tb, preCert, notBefore)))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.inter, key.Public(), s.interKey)
	must(tb, err)
	cert, err := x509.ParseCertificate(der)
	must(tb, err)
	return cert, key
}

// sctList is the SCT list extension's value: one SCT of the instance's CT log over the
// precertificate (the certificate without the extension), as RFC 6962 embeds it.
func (s *Sigstore) sctList(tb TB, pre *x509.Certificate, at time.Time) []byte {
	tb.Helper()
	var logID [32]byte
	copy(logID[:], keyID(tb, s.ctKey.Public()))
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: logID}, Timestamp: uint64(at.UnixMilli())}
	entry := ct.LogEntry{Leaf: ct.MerkleTreeLeaf{Version: ct.V1, LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{Timestamp: sct.Timestamp, EntryType: ct.PrecertLogEntryType,
			PrecertEntry: &ct.PreCert{IssuerKeyHash: sha256.Sum256(s.inter.RawSubjectPublicKeyInfo), TBSCertificate: pre.RawTBSCertificate}}}}
	input, err := ct.SerializeSCTSignatureInput(sct, entry)
	must(tb, err)
	h := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, s.ctKey, h[:])
	must(tb, err)
	sct.Signature = ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: sig}
	list, err := x509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{&sct})
	must(tb, err)
	raw, err := cttls.Marshal(*list)
	must(tb, err)
	val, err := asn1.Marshal(raw)
	must(tb, err)
	return val
}

func keyID(tb TB, pub crypto.PublicKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	must(tb, err)
	sum := sha256.Sum256(der)
	return sum[:]
}

func must(tb TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func ctPkixExt(oid asn1.ObjectIdentifier, val []byte) pkix.Extension {
	return pkix.Extension{Id: oid, Value: val}
}
