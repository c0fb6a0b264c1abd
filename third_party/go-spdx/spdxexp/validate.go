package spdxexp

// ValidateLicenses reports whether every expression is a valid SPDX license expression whose
// identifiers are all on the SPDX license list, and returns the expressions that are not.
func ValidateLicenses(licenses []string) (bool, []string) {
	var invalid []string
	for _, l := range licenses {
		if _, err := Parse(l); err != nil {
			invalid = append(invalid, l)
		}
	}
	return len(invalid) == 0, invalid
}
