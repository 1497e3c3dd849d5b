package main

import (
	"runtime/debug"
	"strconv"

	"github.com/s3vfs/s3vfs"
)

// versionString names this build of the command and the storage format.
func versionString() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "s3vfs " + v + " (storage format v" + strconv.Itoa(s3vfs.FormatVersion) + ")"
}
