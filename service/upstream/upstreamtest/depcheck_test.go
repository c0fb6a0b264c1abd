package upstreamtest

import (
	"testing"

	"github.com/secure-movie-service/sms/service/internal/depcheck"
)

// TestImports: the fake catalogues import the standard library only.
func TestImports(t *testing.T) { depcheck.StandardLibraryOnly(t) }
