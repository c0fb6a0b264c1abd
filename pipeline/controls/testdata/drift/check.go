// Package fixture is the code under test of the controls drift guard: one input check and one
// limit, each with the test that is its control's evidence.
package fixture

import "errors"

// Check refuses empty input.
func Check(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	return nil
}

// Limit caps n at 10.
func Limit(n int) int { return min(n, 10) }
