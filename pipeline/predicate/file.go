package predicate

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ReadFile reads a predicate file, bounded by MaxSize, and checks that it is JSON.
func ReadFile(p string) ([]byte, error) {
	f, err := os.Open(p) // #nosec G304 -- a predicate file the operator names
	if err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("predicate %s: %w", p, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("predicate %s: larger than %d bytes", p, MaxSize)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("predicate %s: not JSON", p)
	}
	return b, nil
}
