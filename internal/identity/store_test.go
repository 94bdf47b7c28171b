package identity_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sigv4"
)

var (
	accessKeyIDPattern = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	secretPattern      = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
	accountIDPattern   = regexp.MustCompile(`^[1-9][0-9]{11}$`)
)

// openStore opens a store on a fresh directory.
func openStore(t *testing.T) (*identity.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := identity.Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s, dir
}

// ensure creates an account and fails the test on error.
func ensure(t *testing.T, s *identity.Store, id string) {
	t.Helper()
	if _, err := s.EnsureAccount(t.Context(), id); err != nil {
		t.Fatalf("EnsureAccount(%s): %v", id, err)
	}
}

func rootKey(t *testing.T, s *identity.Store, id string) identity.Key {
	t.Helper()
	k, err := s.RootKey(id)
	if err != nil {
		t.Fatalf("RootKey(%s): %v", id, err)
	}
	return k
}

// writeAccounts writes accounts.json into dir.
func writeAccounts(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, identity.AccountsFile), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// profile is one section of a shared-credentials file.
type profile map[string]string

// parseINI parses an AWS shared-credentials file strictly: comments, blank
// lines, [section] headers and key = value lines, no duplicate sections or
// keys. It returns the sections in order and their contents.
func parseINI(t *testing.T, content string) ([]string, map[string]profile) {
	t.Helper()
	var order []string
	sections := map[string]profile{}
	var cur profile
	sc := bufio.NewScanner(strings.NewReader(content))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			name := strings.TrimSpace(line[1 : len(line)-1])
			if _, dup := sections[name]; dup {
				t.Fatalf("line %d: section [%s] appears twice:\n%s", n, name, content)
			}
			cur = profile{}
			sections[name] = cur
			order = append(order, name)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == nil {
				t.Fatalf("line %d: %q is not key = value inside a section:\n%s", n, line, content)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if _, dup := cur[k]; dup {
				t.Fatalf("line %d: key %s appears twice in its section", n, k)
			}
			cur[k] = v
		}
	}
	return order, sections
}

func readCredentials(t *testing.T, dir string) ([]string, map[string]profile) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, identity.CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	return parseINI(t, string(b))
}

func profileOf(k identity.Key) profile {
	return profile{"aws_access_key_id": k.AccessKeyID, "aws_secret_access_key": k.SecretAccessKey, "region": identity.DefaultRegion}
}

func TestOpenEmptyDir(t *testing.T) {
	s, dir := openStore(t)
	if !s.Empty() {
		t.Error("Empty() = false on a new directory")
	}
	if got := s.Accounts(); len(got) != 0 {
		t.Errorf("Accounts() = %v, want none", got)
	}
	if _, ok := s.Principal("AKIAAAAAAAAAAAAAAAAA"); ok {
		t.Error("Principal found a key in an empty store")
	}
	if _, err := s.RootKey("123456789012"); !errors.Is(err, identity.ErrUnknownAccount) {
		t.Errorf("RootKey error = %v, want ErrUnknownAccount", err)
	}
	// Opening writes nothing.
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Open wrote %d files", len(entries))
	}
}

func TestCreateDefaultRandom(t *testing.T) {
	s, dir := openStore(t)
	id, created, err := s.CreateDefault("")
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for the first account")
	}
	if !accountIDPattern.MatchString(id) {
		t.Errorf("account id %q is not 12 digits without a leading zero", id)
	}
	if diff := cmp.Diff([]string{id}, s.Accounts()); diff != "" {
		t.Errorf("Accounts() (-want +got):\n%s", diff)
	}
	if s.Empty() {
		t.Error("Empty() = true after CreateDefault")
	}

	// Later calls, in this process or after a restart, keep that account.
	again, created, err := s.CreateDefault("")
	if err != nil || created || again != id {
		t.Errorf("second CreateDefault = %q, %t, %v; want %q, false, nil", again, created, err, id)
	}
	s2, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, created, err = s2.CreateDefault("")
	if err != nil || created || again != id {
		t.Errorf("CreateDefault after reopen = %q, %t, %v; want %q, false, nil", again, created, err, id)
	}
}

func TestCreateDefaultWithID(t *testing.T) {
	const acct, other = "123456789012", "210987654321"
	s, _ := openStore(t)

	id, created, err := s.CreateDefault(acct)
	if err != nil || id != acct || !created {
		t.Fatalf("CreateDefault(%s) = %q, %t, %v; want it created", acct, id, created, err)
	}
	id, created, err = s.CreateDefault(acct)
	if err != nil || id != acct || created {
		t.Errorf("CreateDefault(%s) again = %q, %t, %v; want created = false", acct, id, created, err)
	}
	// A configured id is created even when the store has other accounts.
	id, created, err = s.CreateDefault(other)
	if err != nil || id != other || !created {
		t.Errorf("CreateDefault(%s) with %s present = %q, %t, %v; want it created", other, acct, id, created, err)
	}
	if diff := cmp.Diff([]string{acct, other}, s.Accounts()); diff != "" {
		t.Errorf("Accounts() (-want +got):\n%s", diff)
	}
	// Without an id, the first account is the default.
	id, created, err = s.CreateDefault("")
	if err != nil || id != acct || created {
		t.Errorf("CreateDefault(\"\") = %q, %t, %v; want %q, false", id, created, err, acct)
	}
	if _, _, err := s.CreateDefault("12345"); err == nil {
		t.Error("CreateDefault accepted an invalid account id")
	}
}

func TestEnsureAccount(t *testing.T) {
	s, _ := openStore(t)
	for i, want := range []bool{true, false, false} {
		created, err := s.EnsureAccount(t.Context(), "123456789012")
		if err != nil {
			t.Fatal(err)
		}
		if created != want {
			t.Errorf("call %d: created = %t, want %t", i+1, created, want)
		}
	}
	if diff := cmp.Diff([]string{"123456789012"}, s.Accounts()); diff != "" {
		t.Errorf("Accounts() (-want +got):\n%s", diff)
	}
	k := rootKey(t, s, "123456789012")
	if _, ok := s.Principal(k.AccessKeyID); !ok {
		t.Error("root key has no principal")
	}

	t.Run("invalid ids", func(t *testing.T) {
		for _, id := range []string{"", "12345678901", "1234567890123", "12345678901a", " 123456789012", "１２３４５６７８９０１２"} {
			created, err := s.EnsureAccount(t.Context(), id)
			if err == nil || created {
				t.Errorf("EnsureAccount(%q) = %t, %v; want an error", id, created, err)
			}
		}
		if diff := cmp.Diff([]string{"123456789012"}, s.Accounts()); diff != "" {
			t.Errorf("Accounts() after invalid ids (-want +got):\n%s", diff)
		}
	})
	t.Run("invalid id writes nothing", func(t *testing.T) {
		s, dir := openStore(t)
		if _, err := s.EnsureAccount(t.Context(), "abc"); err == nil {
			t.Fatal("EnsureAccount(abc) succeeded")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("a rejected account wrote %d files", len(entries))
		}
	})
}

func TestEnsureAccountConcurrent(t *testing.T) {
	s, dir := openStore(t)
	const n = 8
	results := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			created, err := s.EnsureAccount(t.Context(), "123456789012")
			if err != nil {
				t.Error(err)
			}
			results[i] = created
			// Readers run alongside the writers.
			s.Accounts()
			s.Secret(t.Context(), "AKIAAAAAAAAAAAAAAAAA")
		})
	}
	wg.Wait()
	created := 0
	for _, c := range results {
		if c {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d concurrent EnsureAccount calls reported created, want 1", created)
	}
	order, _ := readCredentials(t, dir)
	if diff := cmp.Diff([]string{"default", "123456789012"}, order); diff != "" {
		t.Errorf("credentials profiles (-want +got):\n%s", diff)
	}
}

func TestKeyFormat(t *testing.T) {
	s, _ := openStore(t)
	seen := map[string]bool{}
	for _, id := range []string{"111111111111", "222222222222", "333333333333", "444444444444"} {
		ensure(t, s, id)
		k := rootKey(t, s, id)
		if !accessKeyIDPattern.MatchString(k.AccessKeyID) {
			t.Errorf("access key id %q is not AKIA and 16 characters of [A-Z2-7]", k.AccessKeyID)
		}
		if !secretPattern.MatchString(k.SecretAccessKey) {
			t.Errorf("secret %q is not 40 characters of [A-Za-z0-9+/]", k.SecretAccessKey)
		}
		if k.Type != identity.TypeRoot || k.UserName != "" {
			t.Errorf("new key = %+v, want a root key", k)
		}
		for _, v := range []string{k.AccessKeyID, k.SecretAccessKey} {
			if seen[v] {
				t.Errorf("%q generated twice", v)
			}
			seen[v] = true
		}
	}
}

func TestSecretAndPrincipal(t *testing.T) {
	s, _ := openStore(t)
	ensure(t, s, "123456789012")
	ensure(t, s, "210987654321")
	for _, acct := range []string{"123456789012", "210987654321"} {
		k := rootKey(t, s, acct)
		sec, err := s.Secret(t.Context(), k.AccessKeyID)
		if err != nil {
			t.Fatalf("Secret(%s): %v", k.AccessKeyID, err)
		}
		if sec != k.SecretAccessKey {
			t.Errorf("Secret(%s) = %q, want %q", k.AccessKeyID, sec, k.SecretAccessKey)
		}
		p, ok := s.Principal(k.AccessKeyID)
		want := identity.Principal{AccountID: acct, Type: identity.TypeRoot, AccessKeyID: k.AccessKeyID}
		if diff := cmp.Diff(want, p); !ok || diff != "" {
			t.Errorf("Principal(%s) ok=%t (-want +got):\n%s", k.AccessKeyID, ok, diff)
		}
	}

	const unknown = "AKIAZZZZZZZZZZZZZZZZ"
	sec, err := s.Secret(t.Context(), unknown)
	if !errors.Is(err, sigv4.ErrUnknownKey) || sec != "" {
		t.Errorf("Secret(unknown) = %q, %v; want an error wrapping sigv4.ErrUnknownKey", sec, err)
	}
	if _, ok := s.Principal(unknown); ok {
		t.Error("Principal(unknown) found a principal")
	}
	var _ sigv4.KeyLookup = s.Secret
}

func TestFilesRoundTrip(t *testing.T) {
	s, dir := openStore(t)
	first, _, err := s.CreateDefault("")
	if err != nil {
		t.Fatal(err)
	}
	ensure(t, s, "123456789012")
	ensure(t, s, "210987654321")
	accts := []string{first, "123456789012", "210987654321"}
	keys := map[string]identity.Key{}
	for _, a := range accts {
		keys[a] = rootKey(t, s, a)
	}

	t.Run("modes", func(t *testing.T) {
		for _, name := range []string{identity.AccountsFile, identity.CredentialsFile} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != 0o600 {
				t.Errorf("%s mode = %v, want 0600", name, fi.Mode())
			}
		}
	})

	t.Run("accounts.json", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, identity.AccountsFile))
		if err != nil {
			t.Fatal(err)
		}
		var got identity.File
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("accounts.json: %v\n%s", err, b)
		}
		var want identity.File
		for _, a := range accts {
			want.Accounts = append(want.Accounts, identity.Account{AccountID: a, Keys: []identity.Key{keys[a]}})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("accounts.json (-want +got):\n%s", diff)
		}
	})

	t.Run("reopen", func(t *testing.T) {
		s2, err := identity.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(accts, s2.Accounts()); diff != "" {
			t.Errorf("Accounts() after reopen (-want +got):\n%s", diff)
		}
		for _, a := range accts {
			k := keys[a]
			if diff := cmp.Diff(k, rootKey(t, s2, a)); diff != "" {
				t.Errorf("RootKey(%s) after reopen (-want +got):\n%s", a, diff)
			}
			if sec, err := s2.Secret(t.Context(), k.AccessKeyID); err != nil || sec != k.SecretAccessKey {
				t.Errorf("Secret(%s) after reopen = %q, %v", k.AccessKeyID, sec, err)
			}
			p, ok := s2.Principal(k.AccessKeyID)
			if !ok || p.AccountID != a || p.Type != identity.TypeRoot {
				t.Errorf("Principal(%s) after reopen = %+v, %t", k.AccessKeyID, p, ok)
			}
		}
	})

	t.Run("credentials", func(t *testing.T) {
		order, sections := readCredentials(t, dir)
		if diff := cmp.Diff([]string{"default", first, "123456789012", "210987654321"}, order); diff != "" {
			t.Errorf("profiles (-want +got):\n%s", diff)
		}
		want := map[string]profile{"default": profileOf(keys[first])}
		for _, a := range accts {
			want[a] = profileOf(keys[a])
		}
		if diff := cmp.Diff(want, sections); diff != "" {
			t.Errorf("credentials (-want +got):\n%s", diff)
		}
	})

	t.Run("no temp files", func(t *testing.T) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if diff := cmp.Diff([]string{identity.AccountsFile, identity.CredentialsFile}, names); diff != "" {
			t.Errorf("data directory (-want +got):\n%s", diff)
		}
	})
}

const handEdited = `{
  "accounts": [
    {
      "accountId": "123456789012",
      "keys": [
        {"accessKeyId": "AKIAROOTROOTROOTROOT", "secretAccessKey": "rootsecret", "type": "Root"},
        {"accessKeyId": "AKIAALICEALICEALICE2", "secretAccessKey": "alicesecret", "type": "IAMUser", "userName": "alice", "tags": {"team": "sec", "cost-center": "42"}}
      ]
    },
    {
      "accountId": "210987654321",
      "keys": [
        {"accessKeyId": "AKIABOBBOBBOBBOBBOB2", "secretAccessKey": "bobsecret", "type": "IAMUser", "userName": "bob"}
      ]
    }
  ]
}
`

func TestHandEditedIAMUser(t *testing.T) {
	dir := t.TempDir()
	writeAccounts(t, dir, handEdited)
	s, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, s *identity.Store) {
		t.Helper()
		want := map[string]identity.Principal{
			"AKIAROOTROOTROOTROOT": {AccountID: "123456789012", Type: identity.TypeRoot, AccessKeyID: "AKIAROOTROOTROOTROOT"},
			"AKIAALICEALICEALICE2": {AccountID: "123456789012", Type: identity.TypeIAMUser, UserName: "alice", AccessKeyID: "AKIAALICEALICEALICE2"},
			"AKIABOBBOBBOBBOBBOB2": {AccountID: "210987654321", Type: identity.TypeIAMUser, UserName: "bob", AccessKeyID: "AKIABOBBOBBOBBOBBOB2"},
		}
		for id, wantP := range want {
			p, ok := s.Principal(id)
			if diff := cmp.Diff(wantP, p); !ok || diff != "" {
				t.Errorf("Principal(%s) ok=%t (-want +got):\n%s", id, ok, diff)
			}
		}
		p, _ := s.Principal("AKIAALICEALICEALICE2")
		if got, wantARN := p.ARN(), "arn:aws:iam::123456789012:user/alice"; got != wantARN {
			t.Errorf("alice ARN = %q, want %q", got, wantARN)
		}
		if diff := cmp.Diff(map[string]string{"team": "sec", "cost-center": "42"}, s.PrincipalTags("AKIAALICEALICEALICE2")); diff != "" {
			t.Errorf("PrincipalTags(alice) (-want +got):\n%s", diff)
		}
		if tags := s.PrincipalTags("AKIABOBBOBBOBBOBBOB2"); tags != nil {
			t.Errorf("PrincipalTags(bob) = %v, want none", tags)
		}
		if sec, err := s.Secret(t.Context(), "AKIAALICEALICEALICE2"); err != nil || sec != "alicesecret" {
			t.Errorf("Secret(alice) = %q, %v", sec, err)
		}
		// RootKey skips IAM users; an account without a root key has none.
		if k := rootKey(t, s, "123456789012"); k.AccessKeyID != "AKIAROOTROOTROOTROOT" {
			t.Errorf("RootKey = %+v, want the root key", k)
		}
		if _, err := s.RootKey("210987654321"); !errors.Is(err, identity.ErrUnknownAccount) {
			t.Errorf("RootKey(account without root key) error = %v", err)
		}
	}
	check(t, s)

	// Adding an account rewrites both files; the hand-edited users survive
	// and the credentials file lists root keys only.
	ensure(t, s, "333333333333")
	newKey := rootKey(t, s, "333333333333")
	s2, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(t, s2)
	_, sections := readCredentials(t, dir)
	want := map[string]profile{
		"default":      {"aws_access_key_id": "AKIAROOTROOTROOTROOT", "aws_secret_access_key": "rootsecret", "region": identity.DefaultRegion},
		"123456789012": {"aws_access_key_id": "AKIAROOTROOTROOTROOT", "aws_secret_access_key": "rootsecret", "region": identity.DefaultRegion},
		"333333333333": profileOf(newKey),
	}
	if diff := cmp.Diff(want, sections); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}
}

func TestOpenInvalidAccounts(t *testing.T) {
	key := func(id, secret, typ, user string) string {
		b, _ := json.Marshal(identity.Key{AccessKeyID: id, SecretAccessKey: secret, Type: typ, UserName: user})
		return string(b)
	}
	root := key("AKIAROOTROOTROOTROOT", "s", "Root", "")
	tests := []struct {
		name    string
		content string
		want    string // field path the error must name
	}{
		{"not json", `{"accounts": [`, "unexpected end of JSON input"},
		{"wrong shape", `{"accounts": {}}`, "cannot unmarshal"},
		{"bad account id", `{"accounts": [{"accountId": "12345", "keys": []}]}`, "accounts[0].accountId:"},
		{"bad second account id", `{"accounts": [{"accountId": "123456789012", "keys": []}, {"accountId": "x23456789012"}]}`, "accounts[1].accountId:"},
		{"missing secret", `{"accounts": [{"accountId": "123456789012", "keys": [` + root + `, ` + key("AKIAOTHEROTHEROTHER2", "", "Root", "") + `]}]}`,
			"accounts[0].keys[1].secretAccessKey:"},
		{"missing key id", `{"accounts": [{"accountId": "123456789012", "keys": [` + key("", "s", "Root", "") + `]}]}`,
			"accounts[0].keys[0].accessKeyId:"},
		{"unknown type", `{"accounts": [{"accountId": "123456789012", "keys": [` + key("AKIAROOTROOTROOTROOT", "s", "Admin", "") + `]}]}`,
			"accounts[0].keys[0].type:"},
		{"missing type", `{"accounts": [{"accountId": "123456789012", "keys": [{"accessKeyId": "AKIAX", "secretAccessKey": "s"}]}]}`,
			"accounts[0].keys[0].type:"},
		{"iam user without name", `{"accounts": [{"accountId": "123456789012", "keys": [` + root + `, ` + key("AKIAALICEALICEALICE2", "s", "IAMUser", "") + `]}]}`,
			"accounts[0].keys[1].userName:"},
		{"duplicate key id", `{"accounts": [{"accountId": "123456789012", "keys": [` + root + `]}, {"accountId": "210987654321", "keys": [` + root + `]}]}`,
			"accounts[1].keys[0].accessKeyId:"},
		{"tags on a root key", `{"accounts": [{"accountId": "123456789012", "keys": [{"accessKeyId": "AKIAX", "secretAccessKey": "s", "type": "Root", "tags": {"a": "b"}}]}]}`,
			"accounts[0].keys[0].tags: only IAM users"},
		{"empty tag key", `{"accounts": [{"accountId": "123456789012", "keys": [{"accessKeyId": "AKIAX", "secretAccessKey": "s", "type": "IAMUser", "userName": "u", "tags": {"": "b"}}]}]}`,
			"accounts[0].keys[0].tags:"},
		{"duplicate account", `{"accounts": [{"accountId": "123456789012", "keys": []}, {"accountId": "123456789012", "keys": []}]}`,
			"accounts[1].accountId:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeAccounts(t, dir, tc.content)
			s, err := identity.Open(dir)
			if err == nil {
				t.Fatalf("Open succeeded with accounts %+v", s.Accounts())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open error = %q, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, identity.AccountsFile)) {
				t.Errorf("Open error = %q, want it to name the file", err)
			}
		})
	}
}

func TestOpenUnreadable(t *testing.T) {
	dir := t.TempDir()
	// accounts.json is a directory: reading it fails with something other
	// than "not exist", which must not be taken for an empty store.
	if err := os.Mkdir(filepath.Join(dir, identity.AccountsFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.Open(dir); err == nil {
		t.Fatal("Open succeeded with an unreadable accounts file")
	}
}

func TestSaveFailureKeepsState(t *testing.T) {
	s, dir := openStore(t)
	ensure(t, s, "123456789012")
	k := rootKey(t, s, "123456789012")
	// The data directory disappears, so the next save fails.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureAccount(t.Context(), "210987654321"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("EnsureAccount without a directory = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if diff := cmp.Diff([]string{"123456789012"}, s.Accounts()); diff != "" {
		t.Errorf("Accounts() after a failed save (-want +got):\n%s", diff)
	}
	if sec, err := s.Secret(t.Context(), k.AccessKeyID); err != nil || sec != k.SecretAccessKey {
		t.Errorf("existing key after a failed save: Secret = %q, %v", sec, err)
	}
}

// Profile names the credentials file's profile that holds an account's
// root key, so a hint naming it works: checked against the file itself.
func TestProfile(t *testing.T) {
	dir := t.TempDir()
	writeAccounts(t, dir, `{
  "accounts": [
    {"accountId": "111111111111", "keys": [{"accessKeyId": "AKIAALICEALICEALICE2", "secretAccessKey": "alicesecret", "type": "IAMUser", "userName": "alice"}]},
    {"accountId": "222222222222", "keys": [{"accessKeyId": "AKIAROOTROOTROOTROOT", "secretAccessKey": "rootsecret", "type": "Root"}]}
  ]
}
`)
	s, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ensure(t, s, "333333333333") // writes the credentials file
	_, sections := readCredentials(t, dir)
	tests := []struct {
		name    string
		account string
		want    string
		wantOK  bool
	}{
		{name: "first account with a root key", account: "222222222222", want: "default", wantOK: true},
		{name: "a later account", account: "333333333333", want: "333333333333", wantOK: true},
		{name: "no root key", account: "111111111111"},
		{name: "unknown account", account: "444444444444"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := s.Profile(tc.account)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("Profile(%s) = %q, %v; want %q, %v", tc.account, got, ok, tc.want, tc.wantOK)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(profileOf(rootKey(t, s, tc.account)), sections[got]); diff != "" {
				t.Errorf("profile %s in the credentials file (-want +got):\n%s", got, diff)
			}
		})
	}
}
