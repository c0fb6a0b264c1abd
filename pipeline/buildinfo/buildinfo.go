// Package buildinfo reads the versions of the running pipeline and of the modules linked into
// it, for the tool names that reports (SARIF, SBOM creators) carry.
package buildinfo

import "runtime/debug"

// Version is the version of the module that built the running program (the pipeline),
// or "devel" when it was built from a work tree.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "devel"
	}
	return bi.Main.Version
}

// Dep is the version of module path linked into the running program, or "" when it
// is not linked in.
func Dep(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}
