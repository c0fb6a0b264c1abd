package auth_test

import (
	"testing"

	"github.com/secure-movie-service/sms/service/internal/depcheck"
)

// TestImportsOnlyStandardLibrary proves the package and its tests import
// nothing outside the standard library and this module.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	depcheck.StandardLibraryOnly(t, "github.com/secure-movie-service/sms/service/")
}
