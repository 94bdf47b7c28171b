package delivery

import (
	"errors"
	"os"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// dirFS is how the engine writes into its directory. The engine uses the
// disk (osFS); tests swap in writes that fail as on a full disk.
type dirFS interface {
	// WriteNew creates path with data and fsyncs it. On error the file
	// may be left behind, partly written: the caller removes it.
	WriteNew(path string, data []byte) error
	// WriteAtomic replaces path with data: write a temporary file, fsync,
	// rename, fsync the directory (fileutil.WriteFileAtomic).
	WriteAtomic(path string, data []byte) error
	// SyncDir fsyncs a directory.
	SyncDir(dir string) error
}

// osFS is dirFS on the disk.
type osFS struct{}

var _ dirFS = osFS{}

func (osFS) WriteNew(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	return errors.Join(err, fh.Close())
}

func (osFS) WriteAtomic(path string, data []byte) error {
	return fileutil.WriteFileAtomic(path, data, 0o644)
}

func (osFS) SyncDir(dir string) error { return fileutil.SyncDir(dir) }
