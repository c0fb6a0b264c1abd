package main

import (
	"fmt"
	"os"
)

// checkFileMode refuses a file that anyone but its owner may change: the
// JWKS decides who authenticates, the OPA token and the TLS key are
// secrets. A private file (the TLS key) must not be readable by group or
// others either.
func checkFileMode(path, what string, private bool) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	mode := fi.Mode().Perm()
	if mode&0o022 != 0 {
		return fmt.Errorf("%s %s is writable by group or others (mode %04o); chmod go-w it", what, path, mode)
	}
	if private && mode&0o044 != 0 {
		return fmt.Errorf("%s %s is readable by group or others (mode %04o); chmod 600 it", what, path, mode)
	}
	return nil
}

// checkFileModes applies checkFileMode to every file the server trusts.
func checkFileModes(c config) error {
	for _, f := range []struct {
		path, what string
		private    bool
	}{
		{c.jwks, "JWKS file", false},
		{c.opaTokenFile, "OPA token file", false},
		{c.upstream.omdbKeyFile, "OMDb key file", false},
		{c.tlsKey, "TLS key", true},
	} {
		if err := checkFileMode(f.path, f.what, f.private); err != nil {
			return err
		}
	}
	return nil
}
