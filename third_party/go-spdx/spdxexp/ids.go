package spdxexp

import (
	_ "embed"
	"strings"
)

//go:embed data/licenses.txt
var licenseList string

//go:embed data/exceptions.txt
var exceptionList string

// licenses and exceptions map a lower-cased identifier to its canonical spelling.
var (
	licenses   = readList(licenseList)
	exceptions = readList(exceptionList)
)

func readList(text string) map[string]string {
	m := make(map[string]string)
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[strings.ToLower(line)] = line
	}
	return m
}

// LicenseID reports the canonical spelling of an SPDX license identifier, matched without
// regard to case, and whether it is on the list.
func LicenseID(id string) (string, bool) {
	c, ok := licenses[strings.ToLower(id)]
	return c, ok
}

// ExceptionID reports the canonical spelling of an SPDX license exception identifier,
// matched without regard to case, and whether it is on the list.
func ExceptionID(id string) (string, bool) {
	c, ok := exceptions[strings.ToLower(id)]
	return c, ok
}
