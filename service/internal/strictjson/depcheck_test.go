package strictjson_test

import (
	"testing"

	"github.com/secure-movie-service/sms/service/internal/depcheck"
)

// TestImportsOnlyStandardLibrary proves the package and its tests import
// nothing outside the standard library, not even the service's own packages.
func TestImportsOnlyStandardLibrary(t *testing.T) { depcheck.StandardLibraryOnly(t) }
