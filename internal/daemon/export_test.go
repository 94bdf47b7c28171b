package daemon

import "github.com/opentrail/opentrail/internal/lake"

// UseTranslator makes the daemons opened from now on translate Lake SQL
// with tr, for tests of the wiring around queries while the daemon has no
// translator of its own; it returns the function that restores the one
// before. Daemon tests do not run in parallel.
func UseTranslator(tr lake.Translator) (restore func()) {
	old := translate
	translate = tr
	return func() { translate = old }
}
