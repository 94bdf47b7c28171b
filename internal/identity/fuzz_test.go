package identity

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// FuzzAccountsFile: Open never panics on any accounts.json; when it accepts
// one, every key it lists resolves to its principal and secret, and saving
// it again (by adding an account) produces a file Open accepts with the
// same keys.
func FuzzAccountsFile(f *testing.F) {
	f.Add([]byte(`{"accounts":[{"accountId":"123456789012","keys":[{"accessKeyId":"AKIAA","secretAccessKey":"s","type":"Root"},{"accessKeyId":"AKIAB","secretAccessKey":"t","type":"IAMUser","userName":"bob"}]}]}`))
	f.Add([]byte(`{"accounts":[{"accountId":"12345","keys":[]}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, AccountsFile), data, 0o600)
		s, err := Open(dir)
		if err != nil {
			if !strings.Contains(err.Error(), AccountsFile) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		check := func(s *Store) {
			for _, a := range s.file.Accounts {
				for _, k := range a.Keys {
					p, ok := s.Principal(k.AccessKeyID)
					if !ok || p.AccountID != a.AccountID || p.Type != k.Type {
						t.Fatalf("key %q resolves to %+v, %v", k.AccessKeyID, p, ok)
					}
					if sec, err := s.Secret(context.Background(), k.AccessKeyID); err != nil || sec != k.SecretAccessKey {
						t.Fatalf("secret of %q: %q, %v", k.AccessKeyID, sec, err)
					}
				}
			}
			if _, err := s.Secret(context.Background(), "AKIA-NOT-THERE"); !errors.Is(err, sigv4.ErrUnknownKey) {
				t.Fatalf("unknown key: %v", err)
			}
		}
		check(s)
		if _, err := s.EnsureAccount(context.Background(), "999999999999"); err != nil {
			return // e.g. the fuzzed file already has that account's key id
		}
		s2, err := Open(dir)
		if err != nil {
			t.Fatalf("reopening a file OpenTrail wrote: %v", err)
		}
		check(s2)
	})
}
