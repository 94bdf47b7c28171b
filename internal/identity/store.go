package identity

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// DefaultRegion is the region written into the credentials file's profiles,
// so the aws CLI needs no --region (botocore reads region there too).
const DefaultRegion = "us-east-1"

// File names inside the data directory.
const (
	AccountsFile    = "accounts.json"
	CredentialsFile = "credentials"
)

// File is the accounts file's schema. Operators may edit it (for example
// to add IAM users) while the server is stopped.
type File struct {
	Accounts []Account `json:"accounts"`
}

// Account is one account and its access keys.
type Account struct {
	AccountID string `json:"accountId"`
	Keys      []Key  `json:"keys"`
}

// Key is one access key and the principal that owns it.
type Key struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	Type            string `json:"type"`               // Root or IAMUser
	UserName        string `json:"userName,omitempty"` // IAM users only
	// Tags are the IAM user's principal tags: what an event data store
	// that enriches events adds as aws:PrincipalTag/KEY (IAM users only).
	Tags map[string]string `json:"tags,omitempty"`
}

// Limits of principal tags (IAM's).
const (
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	maxTags        = 50
)

// ErrUnknownAccount is returned for account ids the store does not hold.
var ErrUnknownAccount = errors.New("identity: unknown account")

// Store holds accounts and keys, backed by DIR/accounts.json, and keeps
// DIR/credentials (AWS shared-credentials format) in step with it.
type Store struct {
	dir  string
	mu   sync.RWMutex
	file File
	keys map[string]Principal
	sec  map[string]string
	tags map[string]map[string]string // principal tags by access key
}

// Open loads the accounts file in dir; a missing file is an empty store.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, AccountsFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("open accounts: %w", err)
	default:
		if err := json.Unmarshal(b, &s.file); err != nil {
			return nil, fmt.Errorf("open accounts: %s: %w", filepath.Join(dir, AccountsFile), err)
		}
	}
	if err := s.reindex(); err != nil {
		return nil, fmt.Errorf("open accounts: %s: %w", filepath.Join(dir, AccountsFile), err)
	}
	return s, nil
}

// reindex validates s.file and rebuilds the key maps from it. On error the
// maps are left as they were, so a rejected change cannot drop valid keys.
func (s *Store) reindex() error {
	keys, sec, tags := map[string]Principal{}, map[string]string{}, map[string]map[string]string{}
	accounts := map[string]int{}
	for i, a := range s.file.Accounts {
		if !event.ValidAccountID(a.AccountID) {
			return fmt.Errorf("accounts[%d].accountId: %q is not a 12-digit account id", i, a.AccountID)
		}
		if first, dup := accounts[a.AccountID]; dup {
			// Two profiles of one name would also break the credentials file.
			return fmt.Errorf("accounts[%d].accountId: %s is already accounts[%d]", i, a.AccountID, first)
		}
		accounts[a.AccountID] = i
		for j, k := range a.Keys {
			path := fmt.Sprintf("accounts[%d].keys[%d]", i, j)
			switch {
			case k.AccessKeyID == "":
				return fmt.Errorf("%s.accessKeyId: required", path)
			case k.SecretAccessKey == "":
				return fmt.Errorf("%s.secretAccessKey: required", path)
			case k.Type != TypeRoot && k.Type != TypeIAMUser:
				return fmt.Errorf("%s.type: %q, want %q or %q", path, k.Type, TypeRoot, TypeIAMUser)
			case k.Type == TypeIAMUser && k.UserName == "":
				return fmt.Errorf("%s.userName: required for IAM users", path)
			case len(k.Tags) > 0 && k.Type != TypeIAMUser:
				return fmt.Errorf("%s.tags: only IAM users have principal tags", path)
			case len(k.Tags) > maxTags:
				return fmt.Errorf("%s.tags: %d tags, at most %d", path, len(k.Tags), maxTags)
			}
			for tk, tv := range k.Tags {
				if tk == "" || len(tk) > maxTagKeyLen || len(tv) > maxTagValueLen {
					return fmt.Errorf("%s.tags: %q: keys are 1 to %d characters and values at most %d", path, tk, maxTagKeyLen, maxTagValueLen)
				}
			}
			if _, dup := keys[k.AccessKeyID]; dup {
				return fmt.Errorf("%s.accessKeyId: %s is used twice", path, k.AccessKeyID)
			}
			keys[k.AccessKeyID] = Principal{AccountID: a.AccountID, Type: k.Type, UserName: k.UserName, AccessKeyID: k.AccessKeyID}
			if len(k.Tags) > 0 {
				tags[k.AccessKeyID] = k.Tags
			}
			sec[k.AccessKeyID] = k.SecretAccessKey
		}
	}
	s.keys, s.sec, s.tags = keys, sec, tags
	return nil
}

// Empty reports whether no account exists yet.
func (s *Store) Empty() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.file.Accounts) == 0
}

// Accounts lists the account ids.
func (s *Store) Accounts() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	for _, a := range s.file.Accounts {
		ids = append(ids, a.AccountID)
	}
	return ids
}

// Secret returns the secret of an access key; it implements sigv4.KeyLookup.
func (s *Store) Secret(_ context.Context, accessKeyID string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sec, ok := s.sec[accessKeyID]
	if !ok {
		return "", fmt.Errorf("access key %s: %w", accessKeyID, sigv4.ErrUnknownKey)
	}
	return sec, nil
}

// Principal returns the owner of an access key.
func (s *Store) Principal(accessKeyID string) (Principal, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.keys[accessKeyID]
	return p, ok
}

// PrincipalTags returns the principal tags of the IAM user an access key
// belongs to (nil for none or an unknown key). The map is shared: do not
// change it.
func (s *Store) PrincipalTags(accessKeyID string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tags[accessKeyID]
}

// RootKey returns the first root key of an account.
func (s *Store) RootKey(accountID string) (Key, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, a := range s.file.Accounts {
		if a.AccountID != accountID {
			continue
		}
		if k, ok := rootKey(a); ok {
			return k, nil
		}
	}
	return Key{}, fmt.Errorf("%s: %w", accountID, ErrUnknownAccount)
}

// CreateDefault makes sure the server has an account to hand out. With an
// accountID it creates that account (with a root key) unless it exists;
// without one it creates a random account only when the store is empty. It
// returns the account id to advertise and whether it was created.
func (s *Store) CreateDefault(accountID string) (string, bool, error) {
	if accountID != "" {
		created, err := s.EnsureAccount(context.Background(), accountID)
		return accountID, created, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.file.Accounts) > 0 {
		return s.file.Accounts[0].AccountID, false, nil
	}
	accountID = randomAccountID()
	if err := s.addLocked(accountID); err != nil {
		return "", false, err
	}
	return accountID, true, nil
}

// EnsureAccount creates accountID with a root key if it does not exist yet;
// the key is written to the credentials file as a profile named after the
// account id.
func (s *Store) EnsureAccount(_ context.Context, accountID string) (bool, error) {
	if !event.ValidAccountID(accountID) {
		return false, fmt.Errorf("create account: %q is not a 12-digit account id", accountID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hasLocked(accountID) {
		return false, nil
	}
	return true, s.addLocked(accountID)
}

func (s *Store) hasLocked(id string) bool {
	return slices.ContainsFunc(s.file.Accounts, func(a Account) bool { return a.AccountID == id })
}

func (s *Store) addLocked(accountID string) error {
	k := Key{AccessKeyID: newAccessKeyID(), SecretAccessKey: newSecret(), Type: TypeRoot}
	s.file.Accounts = append(s.file.Accounts, Account{AccountID: accountID, Keys: []Key{k}})
	if err := s.reindex(); err != nil {
		s.file.Accounts = s.file.Accounts[:len(s.file.Accounts)-1]
		return fmt.Errorf("create account: %w", err)
	}
	if err := s.saveLocked(); err != nil {
		s.file.Accounts = s.file.Accounts[:len(s.file.Accounts)-1]
		_ = s.reindex()
		return err
	}
	return nil
}

func (s *Store) saveLocked() error {
	b, err := json.MarshalIndent(s.file, "", "  ")
	if err != nil {
		return fmt.Errorf("save accounts: %w", err)
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(s.dir, AccountsFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save accounts: %w", err)
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(s.dir, CredentialsFile), []byte(s.credentialsLocked()), 0o600); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// Profile names the credentials file's profile that holds accountID's
// root key: "default" for the first account with a root key, the account
// id for the others. ok is false when the account has no root key, and so
// no profile.
func (s *Store) Profile(accountID string) (name string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, a := range s.file.Accounts {
		if a.AccountID != accountID {
			continue
		}
		if _, ok := rootKey(a); !ok {
			return "", false
		}
		if a.AccountID == s.defaultProfileLocked() {
			return "default", true
		}
		return a.AccountID, true
	}
	return "", false
}

// defaultProfileLocked is the account whose root key profile default
// holds: the first with a root key; "" when none has one.
func (s *Store) defaultProfileLocked() string {
	for _, a := range s.file.Accounts {
		if _, ok := rootKey(a); ok {
			return a.AccountID
		}
	}
	return ""
}

// rootKey is a's first root key.
func rootKey(a Account) (Key, bool) {
	for _, k := range a.Keys {
		if k.Type == TypeRoot {
			return k, true
		}
	}
	return Key{}, false
}

// credentialsLocked renders the shared-credentials file: profile default is
// the first account's root key; every account's root key also appears as a
// profile named after the account id. Profile names them.
func (s *Store) credentialsLocked() string {
	var b strings.Builder
	b.WriteString("# Written by OpenTrail from accounts.json; edits here are overwritten.\n")
	def := s.defaultProfileLocked()
	for _, a := range s.file.Accounts {
		k, ok := rootKey(a)
		if !ok {
			continue
		}
		if a.AccountID == def {
			fmt.Fprintf(&b, "\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n", k.AccessKeyID, k.SecretAccessKey, DefaultRegion)
		}
		fmt.Fprintf(&b, "\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n", a.AccountID, k.AccessKeyID, k.SecretAccessKey, DefaultRegion)
	}
	return b.String()
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func randString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

func newAccessKeyID() string { return "AKIA" + randString(keyAlphabet, 16) }

func newSecret() string {
	return randString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
}

func randomAccountID() string { return randString("123456789", 1) + randString("0123456789", 11) }

// Authenticator verifies SigV4 requests and maps the key to its principal.
type Authenticator struct {
	Store    *Store
	Verifier *sigv4.Verifier
}

// NewAuthenticator returns an Authenticator verifying against s.
func NewAuthenticator(s *Store, opts sigv4.Options) *Authenticator {
	return &Authenticator{Store: s, Verifier: sigv4.NewVerifier(s.Secret, opts)}
}

// AuthenticateHeaders verifies r's signature before its body is read (see
// sigv4.Verifier.VerifyHeaders) and returns the caller and the body hash
// the request declared, which the caller MUST check against the body (nil
// when the payload is unsigned).
func (a *Authenticator) AuthenticateHeaders(r *http.Request) (Caller, []byte, error) {
	res, err := a.Verifier.VerifyHeaders(r.Context(), r)
	if err != nil {
		return Caller{}, nil, err
	}
	p, ok := a.Store.Principal(res.AccessKeyID)
	if !ok {
		return Caller{}, nil, fmt.Errorf("access key %s: %w", res.AccessKeyID, sigv4.ErrUnknownKey)
	}
	return Caller{Principal: p, Region: res.Region, Service: res.Service}, res.PayloadSHA256, nil
}

// Authenticate verifies r and returns the caller. Errors wrap the sigv4
// sentinels.
func (a *Authenticator) Authenticate(r *http.Request, body []byte) (Caller, error) {
	res, err := a.Verifier.Verify(r.Context(), r, body)
	if err != nil {
		return Caller{}, err
	}
	p, ok := a.Store.Principal(res.AccessKeyID)
	if !ok {
		return Caller{}, fmt.Errorf("access key %s: %w", res.AccessKeyID, sigv4.ErrUnknownKey)
	}
	return Caller{Principal: p, Region: res.Region, Service: res.Service}, nil
}
