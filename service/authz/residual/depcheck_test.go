package residual

import (
	"testing"

	"github.com/secure-movie-service/sms/service/internal/depcheck"
)

// TestImportsOnlyStandardLibrary: the evaluator imports the standard library
// and nothing else, not even the service's own packages.
func TestImportsOnlyStandardLibrary(t *testing.T) { depcheck.StandardLibraryOnly(t) }
