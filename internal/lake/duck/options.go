package duck

// TimeLayout is how Lake prints a timestamp: "2023-01-22 16:53:53.000".
const TimeLayout = "2006-01-02 15:04:05.000"

// Options configure an instance.
type Options struct {
	// AllowedDirs are the only directories the instance may read or
	// write files in (absolute paths). Empty means no file access at all.
	AllowedDirs []string
	// Threads is DuckDB's worker thread count; 0 means DuckDB's default.
	Threads int
	// MemoryLimit is DuckDB's memory_limit, e.g. "512MB"; "" means
	// DuckDB's default (80% of RAM).
	MemoryLimit string
	// TempDir is where DuckDB spills what a statement holds beyond
	// MemoryLimit (its temp_directory; an absolute path, created by DuckDB
	// when it first spills and removed when the instance closes). It must
	// be this instance's alone: every instance names its spill files
	// alike. DuckDB lets the instance's statements read and write files
	// there whatever AllowedDirs says, so an instance that runs users'
	// SQL must have none. "" means no spilling: a statement that needs
	// more than MemoryLimit fails. (DuckDB's own default, `.tmp` in the
	// process's working directory, is never used.)
	TempDir string
	// Init statements run before the configuration is locked, e.g. the
	// Lake dialect's CREATE MACRO statements.
	Init []string
}

// Available reports whether this build has DuckDB: nil, or ErrNoCgo in a
// build without cgo.
func Available() error { return available }
