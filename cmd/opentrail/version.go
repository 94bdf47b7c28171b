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

func (c *versionCmd) Run(_ context.Context, _ []string) error {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintf(c.stdout, "opentrail %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
