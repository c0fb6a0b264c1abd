package upstream

import (
	"testing"

	"github.com/secure-movie-service/sms/service/internal/depcheck"
)

// TestImports: this package imports the standard library and, of the service's own
// packages, only the egress guard and the strict JSON reader (and the fake catalogues in
// tests). Never the API or the store.
func TestImports(t *testing.T) {
	const mod = "github.com/secure-movie-service/sms/service/"
	depcheck.StandardLibraryOnly(t, mod+"internal/egress", mod+"internal/strictjson", mod+"upstream/upstreamtest")
}
