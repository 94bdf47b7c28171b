package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

type versionCmd struct{ stdout io.Writer }

func (*versionCmd) Name() string    { return "version" }
func (*versionCmd) Summary() string { return "print the version" }

func (c *versionCmd) Run(_ context.Context, args []string) error {
	fs := newFlagSet("version", c.stdout)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: opentrail version\n\nPrints OpenTrail's version, the Go version it was built with, and the\noperating system and architecture.")
	}
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintf(c.stdout, "opentrail %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
