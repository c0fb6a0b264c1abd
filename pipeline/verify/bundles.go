package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"

	"github.com/secure-movie-service/sms/pipeline/keyless"
)

// Limits on the Sigstore bundles attached as OCI 1.1 referrers.
const (
	maxBundles = 64
	// bundleArtifactPrefix is the artifact type of a referrer that holds a Sigstore bundle.
	bundleArtifactPrefix = "application/vnd.dev.sigstore.bundle"
	maxReferrerManifest  = 64 << 10
)

// checkBundles verifies the Sigstore bundles attached to d as OCI 1.1 referrers (cosign's
// --new-bundle-format, cosign v3's default): a bundle whose statement has cosign's signing
// predicate type is a signature over its subject, any other an attestation. Without a
// trusted root, bundles are listed as unverified; a registry that cannot list referrers is
// information too (what is required is judged from the facts).
func checkBundles(ctx context.Context, d name.Digest, o Options, f *Facts) {
	idx, err := ociremote.Referrers(d, "", o.Client.Cosign(ctx)...)
	if err != nil {
		f.Unverified = append(f.Unverified, fmt.Sprintf("referrers of %s not listed: %v", d.DigestStr(), err))
		return
	}
	n := 0
	for _, desc := range idx.Manifests {
		if !strings.HasPrefix(desc.ArtifactType, bundleArtifactPrefix) {
			continue
		}
		if n++; n > maxBundles {
			f.Problems = append(f.Problems, fmt.Sprintf("more than %d Sigstore bundles attached", maxBundles))
			return
		}
		if o.Keyless == nil {
			f.refuse("bundle", n-1, fmt.Errorf("%w: a Sigstore bundle, and no trusted root was given", errUnverified))
			continue
		}
		if desc.Size > maxReferrerManifest {
			f.Problems = append(f.Problems, fmt.Sprintf("bundle %d: manifest of %d bytes (not downloaded)", n-1, desc.Size))
			continue
		}
		raw, err := fetchBundle(ctx, d.Context().Digest(desc.Digest.String()), o)
		if err != nil {
			f.Problems = append(f.Problems, fmt.Sprintf("bundle %d: %v", n-1, err))
			continue
		}
		if err := bundleFacts(raw, o.Keyless, f); err != nil {
			f.refuse("bundle", n-1, err)
		}
	}
}

// fetchBundle reads the one layer of a bundle referrer, refusing oversized layers before
// they are downloaded.
func fetchBundle(ctx context.Context, ref name.Digest, o Options) ([]byte, error) {
	img, err := remote.Image(ref, o.Client.Remote(ctx)...)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != 1 || !strings.HasPrefix(string(m.Layers[0].MediaType), bundleArtifactPrefix) {
		return nil, errors.New("not one Sigstore bundle layer")
	}
	if m.Layers[0].Size > keyless.MaxBundle {
		return nil, fmt.Errorf("layer of %d bytes is larger than %d (not downloaded)", m.Layers[0].Size, keyless.MaxBundle)
	}
	l, err := img.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, keyless.MaxBundle+1))
}

// bundleFacts verifies one bundle and records it as a signature or an attestation.
func bundleFacts(raw []byte, v *keyless.Verifier, f *Facts) error {
	who, env, err := v.VerifyBundle(raw)
	if err != nil {
		return err
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		return err
	}
	body, err := env.DecodeB64Payload()
	if err != nil {
		return fmt.Errorf("envelope payload: %w", err)
	}
	a, err := statementFacts(envJSON, body, Attestation{Identity: &who})
	if err != nil {
		return err
	}
	if a.PredicateType != ctypes.CosignSignPredicateType {
		f.Attestations = append(f.Attestations, a)
		return nil
	}
	if len(a.Subjects) != 1 || !sha256Digest.MatchString(a.Subjects[0].Digest) {
		return errors.New("a signing statement must name exactly one sha256 subject")
	}
	f.Signatures = append(f.Signatures, Signature{Identity: &who, Digest: a.Subjects[0].Digest, DockerReference: a.Subjects[0].Name})
	return nil
}
