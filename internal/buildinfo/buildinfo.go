// Package buildinfo tells which build of Aisle is running: the module
// version, the VCS revision and the build date, from the Go toolchain's
// build information (runtime/debug) and, for builds made outside a
// checkout, from values stamped with -ldflags by `make build`.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped at link time by `make build`
// (-X github.com/aisle-dev/aisle/internal/buildinfo.version=…); empty
// otherwise. Never changed at run time.
var (
	version   string
	revision  string
	buildDate string
)

// Info describes a build.
type Info struct {
	Version   string // module version ("v0.3.0", a pseudo-version, or "devel")
	Revision  string // VCS revision, "unknown" when not recorded
	Modified  bool   // built from a checkout with uncommitted changes
	BuildDate string // RFC 3339; the commit time when not stamped; "unknown"
	GoVersion string
}

// Get returns the running binary's build information.
func Get() Info {
	in := Info{Version: "devel", Revision: "unknown", BuildDate: "unknown", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			in.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Revision = s.Value
			case "vcs.time":
				in.BuildDate = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		in.Version = version
	}
	if revision != "" {
		in.Revision = revision
	}
	if buildDate != "" {
		in.BuildDate = buildDate
	}
	return in
}

// String is the one-line form `aisle version` prints.
func (in Info) String() string {
	rev := in.Revision
	if in.Modified {
		rev += " (modified)"
	}
	return fmt.Sprintf("aisle %s (revision %s, built %s, %s)", in.Version, rev, in.BuildDate, in.GoVersion)
}
