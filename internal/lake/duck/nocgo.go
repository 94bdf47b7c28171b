//go:build !cgo

package duck

import (
	"context"
	"errors"
)

var available = ErrNoCgo

// ErrNoCgo is every operation of a binary built without cgo: DuckDB is a C++
// library linked through cgo.
var ErrNoCgo = errors.New("this OpenTrail was built without cgo, so it has no SQL engine (DuckDB) and CloudTrail Lake is off; install a C compiler (Debian/Ubuntu: sudo apt-get install -y gcc) and build again with CGO_ENABLED=1")

// DB stands in for a DuckDB instance in a build without cgo.
type DB struct{}

// Open fails with ErrNoCgo.
func Open(context.Context, Options) (*DB, error) { return nil, ErrNoCgo }

// Close does nothing.
func (*DB) Close() error { return nil }

// Serialize fails with ErrNoCgo.
func (*DB) Serialize(context.Context, string) ([]byte, error) { return nil, ErrNoCgo }

// Deserialize fails with ErrNoCgo.
func (*DB) Deserialize(context.Context, []byte) (string, error) { return "", ErrNoCgo }

// Query fails with ErrNoCgo.
func (*DB) Query(context.Context, string, func([]*string) error) ([]string, error) {
	return nil, ErrNoCgo
}

// QueryWith fails with ErrNoCgo.
func (*DB) QueryWith(context.Context, map[string]string, string, func([]*string) error) ([]string, int64, error) {
	return nil, -1, ErrNoCgo
}

// WriteParquet fails with ErrNoCgo.
func (*DB) WriteParquet(context.Context, *Schema, string, []Row) error { return ErrNoCgo }

// Compact fails with ErrNoCgo.
func (*DB) Compact(context.Context, *Schema, string, []string, bool) error { return ErrNoCgo }

// EventIDs fails with ErrNoCgo.
func (*DB) EventIDs(context.Context, string, func(string)) error { return ErrNoCgo }

// Bind fails with ErrNoCgo.
func (*DB) Bind(context.Context, map[string]string, string) error { return ErrNoCgo }
