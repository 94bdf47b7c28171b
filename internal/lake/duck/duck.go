//go:build cgo

package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// DB is one locked-down in-memory DuckDB instance. It is safe for
// concurrent use.
type DB struct {
	connector *duckdb.Connector
	db        *sql.DB
}

// Open opens an in-memory instance, runs opts.Init and locks it.
func Open(ctx context.Context, opts Options) (*DB, error) {
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("duck: open: %w", err)
	}
	d := &DB{connector: c, db: sql.OpenDB(c)}
	setup := []string{
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		// Each query's profile gives the rows its scans matched.
		"SET enable_profiling = 'no_output'",
		`SET custom_profiling_settings = '{"OPERATOR_TYPE": "true", "OPERATOR_CARDINALITY": "true"}'`,
	}
	if opts.Threads > 0 {
		setup = append(setup, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	if opts.MemoryLimit != "" {
		setup = append(setup, "SET memory_limit = "+quoteString(opts.MemoryLimit))
	}
	if opts.TempDir != "" && !filepath.IsAbs(opts.TempDir) {
		d.Close()
		return nil, fmt.Errorf("duck: temporary directory %q is not absolute", opts.TempDir)
	}
	setup = append(setup, "SET temp_directory = "+quoteString(opts.TempDir))
	setup = append(setup, opts.Init...)
	dirs := make([]string, 0, len(opts.AllowedDirs))
	for _, dir := range opts.AllowedDirs {
		if !filepath.IsAbs(dir) {
			d.Close()
			return nil, fmt.Errorf("duck: allowed directory %q is not absolute", dir)
		}
		dirs = append(dirs, quoteString(filepath.Clean(dir)+string(filepath.Separator)))
	}
	if len(dirs) > 0 {
		setup = append(setup, "SET allowed_directories = ["+strings.Join(dirs, ", ")+"]")
	}
	setup = append(setup,
		"SET enable_external_access = false",
		"SET lock_configuration = true")
	for _, q := range setup {
		if _, err := d.db.ExecContext(ctx, q); err != nil {
			d.Close()
			return nil, fmt.Errorf("duck: set up (%s): %w", q, err)
		}
	}
	return d, nil
}

// Close closes the instance.
func (d *DB) Close() error {
	return errors.Join(d.db.Close(), d.connector.Close())
}

// Serialize returns DuckDB's parse tree of statement as JSON
// (json_serialize_sql). A statement DuckDB cannot parse gives a tree with
// "error": true and the parser's message.
func (d *DB) Serialize(ctx context.Context, statement string) ([]byte, error) {
	var s string
	if err := d.db.QueryRowContext(ctx, "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR", statement).Scan(&s); err != nil {
		return nil, fmt.Errorf("duck: parse: %w", err)
	}
	return []byte(s), nil
}

// Deserialize turns a parse tree back into SQL (json_deserialize_sql).
func (d *DB) Deserialize(ctx context.Context, tree []byte) (string, error) {
	var s string
	if err := d.db.QueryRowContext(ctx, "SELECT json_deserialize_sql($1::JSON)", string(tree)).Scan(&s); err != nil {
		return "", fmt.Errorf("duck: deparse: %w", err)
	}
	return s, nil
}

// conn runs fn with one raw driver connection of the instance.
func (d *DB) conn(ctx context.Context, fn func(c *sql.Conn, raw driver.Conn) error) error {
	c, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duck: connect: %w", err)
	}
	defer c.Close()
	var inner error
	err = c.Raw(func(dc any) error {
		raw, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("duck: unexpected driver connection %T", dc)
		}
		inner = fn(c, raw)
		return nil
	})
	if err != nil {
		return err
	}
	return inner
}

var available error
