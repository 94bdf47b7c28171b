package resultfile_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/lake/resultfile"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/fsbucket"
)

const (
	queryID = "0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13"
	account = "123456789012"
	region  = "eu-west-1"
	bucket  = "query-results"
)

var completed = time.Date(2026, 12, 4, 23, 59, 58, 700_000_000, time.UTC)

func str(s string) *string { return &s }

func TestAppendRecord(t *testing.T) {
	tests := []struct {
		name  string
		cells []*string
		want  string
	}{
		{"plain", []*string{str("a"), str("CreateBucket"), str("3")}, "a,CreateBucket,3\r\n"},
		{"comma", []*string{str("a,b"), str("c")}, "\"a,b\",c\r\n"},
		{"quote", []*string{str(`say "hi"`)}, "\"say \"\"hi\"\"\"\r\n"},
		{"only quotes", []*string{str(`""`)}, "\"\"\"\"\"\"\r\n"},
		{"newline", []*string{str("line1\nline2"), str("x")}, "\"line1\nline2\",x\r\n"},
		{"crlf kept", []*string{str("a\r\nb")}, "\"a\r\nb\"\r\n"},
		{"carriage return", []*string{str("a\rb")}, "\"a\rb\"\r\n"},
		{"empty string", []*string{str(""), str("x")}, "\"\",x\r\n"},
		{"null", []*string{nil, str("x"), nil}, ",x,\r\n"},
		{"null and empty", []*string{nil, str("")}, ",\"\"\r\n"},
		{"only null", []*string{nil}, "\"\"\r\n"},
		{"two nulls", []*string{nil, nil}, ",\r\n"},
		{"spaces kept", []*string{str(" a "), str("b c")}, " a ,b c\r\n"},
		{"json", []*string{str(`{"groupId":"sg-1","n":[1,2]}`)}, "\"{\"\"groupId\"\":\"\"sg-1\"\",\"\"n\"\":[1,2]}\"\r\n"},
		{"unicode", []*string{str("Zoë"), str("日本")}, "Zoë,日本\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(resultfile.AppendRecord([]byte("prev|"), tt.cells))
			if want := "prev|" + tt.want; got != want {
				t.Errorf("AppendRecord = %q, want %q", got, want)
			}
		})
	}
}

// readCSV gunzips a result file and parses it with encoding/csv.
func readCSV(t testing.TB, body []byte) [][]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse CSV %q: %v", raw, err)
	}
	return recs
}

// texts renders cells as encoding/csv reads them back: NULL as "", and
// CRLF inside a value as LF (encoding/csv drops the CR).
func texts(cells []*string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		if c != nil {
			out[i] = strings.ReplaceAll(*c, "\r\n", "\n")
		}
	}
	return out
}

func TestEncodeFiles(t *testing.T) {
	cols := []string{"eventName", "count, total", `say "x"`}
	mk := func(i int) []*string {
		return []*string{str(fmt.Sprintf("Op%03d", i)), str(fmt.Sprintf("%04d", i*7)), nil} // fixed width
	}
	var rows [][]*string
	for i := range 50 {
		rows = append(rows, mk(i))
	}
	header := resultfile.AppendRecord(nil, []*string{&cols[0], &cols[1], &cols[2]})
	rowLen := len(resultfile.AppendRecord(nil, mk(0)))
	tests := []struct {
		name      string
		rows      [][]*string
		maxBytes  int
		wantFiles int
	}{
		{"no rows: the header alone", nil, 0, 1},
		{"one file", rows, 0, 1},
		{"split every 10 rows", rows, len(header) + 10*rowLen, 5},
		{"split after 10 rows, rest in the last", rows[:25], len(header) + 10*rowLen, 3},
		{"exact multiple: no empty last file", rows[:20], len(header) + 10*rowLen, 2},
		{"a row per file", rows[:3], 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := resultfile.EncodeFiles(cols, tt.rows, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != tt.wantFiles {
				t.Fatalf("%d files, want %d", len(files), tt.wantFiles)
			}
			var got [][]string
			for i, f := range files {
				if want := fmt.Sprintf("result_%d.csv.gz", i+1); f.Name != want {
					t.Errorf("file %d is %s, want %s", i, f.Name, want)
				}
				sum := sha256.Sum256(f.Body)
				if f.Hash != hex.EncodeToString(sum[:]) {
					t.Errorf("%s: Hash is not the SHA-256 of the compressed body", f.Name)
				}
				recs := readCSV(t, f.Body)
				if diff := cmp.Diff(cols, recs[0]); diff != "" {
					t.Errorf("%s: header (-want +got):\n%s", f.Name, diff)
				}
				if f.Rows != len(recs)-1 {
					t.Errorf("%s: Rows = %d, the file holds %d", f.Name, f.Rows, len(recs)-1)
				}
				if i < len(files)-1 && f.Rows == 0 {
					t.Errorf("%s holds no row", f.Name)
				}
				got = append(got, recs[1:]...)
			}
			var want [][]string
			for _, r := range tt.rows {
				want = append(want, texts(r))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rows across the files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeFilesDeterministic(t *testing.T) {
	rows := [][]*string{{str("a"), nil}, {str("b,c"), str("")}}
	a, err := resultfile.EncodeFiles([]string{"x", "y"}, rows, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := resultfile.EncodeFiles([]string{"x", "y"}, rows, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a[0].Body, b[0].Body) {
		t.Error("the same rows encode to different bytes; a repeated delivery would conflict with the first")
	}
}

func TestEncodeFilesRefuses(t *testing.T) {
	tests := []struct {
		name string
		cols []string
		rows [][]*string
	}{
		{"no columns", nil, nil},
		{"short row", []string{"a", "b"}, [][]*string{{str("1"), str("2")}, {str("1")}}},
		{"long row", []string{"a"}, [][]*string{{str("1"), str("2")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := resultfile.EncodeFiles(tt.cols, tt.rows, 0); !errors.Is(err, resultfile.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestStringToSign(t *testing.T) {
	files := []resultfile.File{{Name: "result_1.csv.gz", Hash: "aaa"}, {Name: "result_2.csv.gz", Hash: "bbb"}, {Name: "result_3.csv.gz", Hash: "ccc"}}
	sf := resultfile.NewSignFile(region, completed, files)
	if got := sf.StringToSign(); got != "aaa bbb ccc" {
		t.Errorf("StringToSign = %q, want %q", got, "aaa bbb ccc")
	}
	if sf.QueryCompleteTime != "2026-12-04T23:59:58Z" {
		t.Errorf("queryCompleteTime = %q", sf.QueryCompleteTime)
	}
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri     string
		want    resultfile.Location
		wantErr error
	}{
		{uri: "s3://my-bucket", want: resultfile.Location{Bucket: "my-bucket"}},
		{uri: "s3://my-bucket/", want: resultfile.Location{Bucket: "my-bucket"}},
		{uri: "s3://my-bucket/a/b/", want: resultfile.Location{Bucket: "my-bucket", Prefix: "a/b"}},
		{uri: "s3://my.bucket/a", want: resultfile.Location{Bucket: "my.bucket", Prefix: "a"}},
		{uri: "https://my-bucket/a", wantErr: resultfile.ErrInvalidURI},
		{uri: "s3://My-Bucket/a", wantErr: objstore.ErrInvalidBucketName},
		{uri: "s3://ab", wantErr: objstore.ErrInvalidBucketName},
		{uri: "s3://a..b/x", wantErr: objstore.ErrInvalidBucketName},
		{uri: "s3://", wantErr: objstore.ErrInvalidBucketName},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, err := resultfile.ParseURI(tt.uri)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseURI = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// keys is a keyring as the signer and the key source of these tests.
type keys struct{ kr *keyring.Keyring }

func newKeys(t *testing.T, now func() time.Time) keys {
	t.Helper()
	o := keyring.DefaultOptions()
	o.Bits = 1024 // fast; the product uses 2048
	if now != nil {
		o.Now = now
	}
	kr, err := keyring.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return keys{kr}
}

const keySet = "global"

func (k keys) SigningKey() (resultfile.Key, error) {
	key, err := k.kr.Current(keySet)
	if err != nil {
		return resultfile.Key{}, err
	}
	return resultfile.Key{Fingerprint: key.Fingerprint, Private: key.Private}, nil
}

func (k keys) PublicKeys(_ context.Context, start, end time.Time) ([]resultfile.PublicKey, error) {
	var out []resultfile.PublicKey
	for _, p := range k.kr.Public(keySet, start, end) {
		out = append(out, resultfile.PublicKey{Fingerprint: p.Fingerprint, Value: p.Value})
	}
	return out, nil
}

func newStore(t *testing.T) *fsbucket.Store {
	t.Helper()
	s, err := fsbucket.Open(t.TempDir(), fsbucket.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateBucket(t.Context(), bucket, objstore.BucketOptions{Owner: account}); err != nil {
		t.Fatal(err)
	}
	return s
}

func request(uri string, rows [][]*string, maxBytes int) resultfile.Request {
	return resultfile.Request{QueryID: queryID, Account: account, Region: region, Completed: completed,
		Columns: []string{"eventName", "userName"}, Rows: rows, URI: uri, MaxFileBytes: maxBytes}
}

func someRows(n int) [][]*string {
	rows := make([][]*string, n)
	for i := range rows {
		rows[i] = []*string{str(fmt.Sprintf("Op%d", i)), str(fmt.Sprintf("user,%d", i%3))}
		if i%4 == 0 {
			rows[i][1] = nil
		}
	}
	return rows
}

func listKeys(t *testing.T, s objstore.Store) []string {
	t.Helper()
	page, err := s.List(t.Context(), bucket, "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range page.Objects {
		out = append(out, o.Key)
	}
	return out
}

func get(t *testing.T, s objstore.Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(t.Context(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeliverAndVerify(t *testing.T) {
	tests := []struct {
		name     string
		uri      string
		rows     int
		maxBytes int
		dir      string
		files    int
	}{
		{"no prefix", "s3://" + bucket, 5, 0, "AWSLogs/123456789012/CloudTrail-Lake/Query/2026/12/04/" + queryID, 1},
		{"prefix with slash", "s3://" + bucket + "/lake/results/", 5, 0, "lake/results/AWSLogs/123456789012/CloudTrail-Lake/Query/2026/12/04/" + queryID, 1},
		{"no rows", "s3://" + bucket + "/p", 0, 0, "p/AWSLogs/123456789012/CloudTrail-Lake/Query/2026/12/04/" + queryID, 1},
		{"split", "s3://" + bucket, 40, 100, "AWSLogs/123456789012/CloudTrail-Lake/Query/2026/12/04/" + queryID, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			k := newKeys(t, nil)
			rows := someRows(tt.rows)
			status, err := resultfile.Deliver(t.Context(), s, k, request(tt.uri, rows, tt.maxBytes))
			if status != queries.DeliverySuccess || err != nil {
				t.Fatalf("Deliver = %s, %v; want SUCCESS", status, err)
			}
			sf, err := resultfile.Verify(t.Context(), s, k, bucket, tt.dir)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.files > 0 && len(sf.Files) != tt.files {
				t.Errorf("%d files, want %d", len(sf.Files), tt.files)
			}
			if tt.files == 0 && len(sf.Files) < 2 {
				t.Errorf("%d files; the rows should have been split", len(sf.Files))
			}
			// The bucket holds the files the sign file lists and the sign
			// file, nothing else; together they hold the rows.
			want := []string{}
			var got [][]string
			for _, f := range sf.Files {
				want = append(want, tt.dir+"/"+f.FileName)
				recs := readCSV(t, get(t, s, tt.dir+"/"+f.FileName))
				if diff := cmp.Diff([]string{"eventName", "userName"}, recs[0]); diff != "" {
					t.Errorf("header (-want +got):\n%s", diff)
				}
				got = append(got, recs[1:]...)
			}
			want = append(want, tt.dir+"/result_sign.json")
			if diff := cmp.Diff(sortedCopy(want), listKeys(t, s)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			var wantRows [][]string
			for _, r := range rows {
				wantRows = append(wantRows, texts(r))
			}
			if diff := cmp.Diff(wantRows, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			checkSignFile(t, get(t, s, tt.dir+"/result_sign.json"), k)

			// Delivering again (a retry, a restart) finds its own objects
			// and succeeds without changing them.
			before := get(t, s, tt.dir+"/result_sign.json")
			status, err = resultfile.Deliver(t.Context(), s, k, request(tt.uri, rows, tt.maxBytes))
			if status != queries.DeliverySuccess || err != nil {
				t.Fatalf("second Deliver = %s, %v; want SUCCESS", status, err)
			}
			if !bytes.Equal(before, get(t, s, tt.dir+"/result_sign.json")) {
				t.Error("the second delivery changed the sign file")
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// checkSignFile checks the sign file's members and their order.
func checkSignFile(t *testing.T, b []byte, k keys) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var order []string
	tok, _ := dec.Token()
	if tok != json.Delim('{') {
		t.Fatalf("sign file does not start with an object: %s", b)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	wantOrder := []string{"version", "region", "files", "hashAlgorithm", "signatureAlgorithm", "queryCompleteTime", "hashSignature", "publicKeyFingerprint"}
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("member order (-want +got):\n%s", diff)
	}
	var sf resultfile.SignFile
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatal(err)
	}
	key, err := k.kr.Current(keySet)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Version != "1.0" || sf.Region != region || sf.HashAlgorithm != "SHA-256" || sf.SignatureAlgorithm != "SHA256withRSA" ||
		sf.QueryCompleteTime != "2026-12-04T23:59:58Z" || sf.PublicKeyFingerprint != key.Fingerprint {
		t.Errorf("sign file = %+v", sf)
	}
	if strings.ToLower(sf.HashSignature) != sf.HashSignature || len(sf.HashSignature) != 256 {
		t.Errorf("hashSignature %q is not lowercase hex of a 1024-bit signature", sf.HashSignature)
	}
}

// tamper changes a delivered set in place.
type tamper func(t *testing.T, s *fsbucket.Store, dir string)

func putRaw(t *testing.T, s *fsbucket.Store, key string, body []byte) {
	t.Helper()
	if err := s.Put(t.Context(), bucket, key, body, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func editSignFile(fn func(sf *resultfile.SignFile)) tamper {
	return func(t *testing.T, s *fsbucket.Store, dir string) {
		var sf resultfile.SignFile
		if err := json.Unmarshal(get(t, s, dir+"/result_sign.json"), &sf); err != nil {
			t.Fatal(err)
		}
		fn(&sf)
		b, err := sf.Encode()
		if err != nil {
			t.Fatal(err)
		}
		putRaw(t, s, dir+"/result_sign.json", b)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	const dir = "AWSLogs/123456789012/CloudTrail-Lake/Query/2026/12/04/" + queryID
	other, err := resultfile.EncodeFiles([]string{"eventName", "userName"}, [][]*string{{str("Forged"), str("mallory")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tamper tamper
		want   error
	}{
		{"result file replaced", func(t *testing.T, s *fsbucket.Store, dir string) {
			putRaw(t, s, dir+"/result_2.csv.gz", other[0].Body)
		}, resultfile.ErrFileChanged},
		{"result file deleted", func(t *testing.T, s *fsbucket.Store, dir string) {
			if err := s.Delete(t.Context(), bucket, dir+"/result_1.csv.gz"); err != nil {
				t.Fatal(err)
			}
		}, resultfile.ErrFileChanged},
		{"file and its hash replaced", func(t *testing.T, s *fsbucket.Store, dir string) {
			putRaw(t, s, dir+"/result_2.csv.gz", other[0].Body)
			editSignFile(func(sf *resultfile.SignFile) { sf.Files[1].FileHashValue = other[0].Hash })(t, s, dir)
		}, resultfile.ErrBadSignature},
		{"a file dropped from the sign file", editSignFile(func(sf *resultfile.SignFile) {
			sf.Files = sf.Files[:len(sf.Files)-1]
		}), resultfile.ErrBadSignature},
		{"files swapped", func(t *testing.T, s *fsbucket.Store, dir string) {
			a, b := get(t, s, dir+"/result_1.csv.gz"), get(t, s, dir+"/result_2.csv.gz")
			putRaw(t, s, dir+"/result_1.csv.gz", b)
			putRaw(t, s, dir+"/result_2.csv.gz", a)
			editSignFile(func(sf *resultfile.SignFile) {
				sf.Files[0].FileHashValue, sf.Files[1].FileHashValue = sf.Files[1].FileHashValue, sf.Files[0].FileHashValue
			})(t, s, dir)
		}, resultfile.ErrBadSignature},
		{"files renamed", editSignFile(func(sf *resultfile.SignFile) {
			sf.Files[0].FileName, sf.Files[1].FileName = sf.Files[1].FileName, sf.Files[0].FileName
		}), resultfile.ErrSignFile},
		{"signature flipped", editSignFile(func(sf *resultfile.SignFile) {
			c := "0"
			if sf.HashSignature[10] == '0' {
				c = "1"
			}
			sf.HashSignature = sf.HashSignature[:10] + c + sf.HashSignature[11:]
		}), resultfile.ErrBadSignature},
		{"unknown key", editSignFile(func(sf *resultfile.SignFile) {
			sf.PublicKeyFingerprint = strings.Repeat("ab", 16)
		}), resultfile.ErrKeyNotFound},
		{"completion time moved before the key", editSignFile(func(sf *resultfile.SignFile) {
			sf.QueryCompleteTime = "2020-01-01T00:00:00Z"
		}), resultfile.ErrKeyNotFound},
		{"sign file deleted", func(t *testing.T, s *fsbucket.Store, dir string) {
			if err := s.Delete(t.Context(), bucket, dir+"/result_sign.json"); err != nil {
				t.Fatal(err)
			}
		}, resultfile.ErrSignFile},
		{"sign file not JSON", func(t *testing.T, s *fsbucket.Store, dir string) {
			putRaw(t, s, dir+"/result_sign.json", []byte("{"))
		}, resultfile.ErrSignFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			// The keys are valid from a day before the query completed.
			k := newKeys(t, func() time.Time { return completed.Add(-24 * time.Hour) })
			status, err := resultfile.Deliver(t.Context(), s, k, request("s3://"+bucket, someRows(40), 200))
			if status != queries.DeliverySuccess || err != nil {
				t.Fatalf("Deliver = %s, %v", status, err)
			}
			if _, err := resultfile.Verify(t.Context(), s, k, bucket, dir+"/"); err != nil {
				t.Fatalf("Verify before tampering: %v", err)
			}
			tt.tamper(t, s, dir)
			_, err = resultfile.Verify(t.Context(), s, k, bucket, dir)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// faultStore is a store whose writes fail as told.
type faultStore struct {
	objstore.Store
	mu       sync.Mutex
	fail     func(key string) error
	attempts int
}

func (f *faultStore) PutIfAbsent(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	f.mu.Lock()
	f.attempts++
	f.mu.Unlock()
	if err := f.fail(key); err != nil {
		return err
	}
	return f.Store.PutIfAbsent(ctx, bucket, key, body, opt)
}

type failingSigner struct{}

func (failingSigner) SigningKey() (resultfile.Key, error) {
	return resultfile.Key{}, errors.New("keyring: disk full")
}

// otherKey is a key whose fingerprint does not match.
type wrongFingerprint struct{ keys }

func (w wrongFingerprint) SigningKey() (resultfile.Key, error) {
	k, err := w.keys.SigningKey()
	k.Fingerprint = strings.Repeat("0", 32)
	return k, err
}

func TestDeliverStatuses(t *testing.T) {
	onSign := func(err error) func(string) error {
		return func(key string) error {
			if strings.HasSuffix(key, "/result_sign.json") {
				return err
			}
			return nil
		}
	}
	always := func(err error) func(string) error { return func(string) error { return err } }
	tests := []struct {
		name       string
		uri        string
		fail       func(key string) error
		signer     func(keys) resultfile.Signer
		want       string
		wantErr    error
		wantSigned bool // the sign file is in the bucket
	}{
		{name: "no such bucket", uri: "s3://no-such-bucket", want: queries.DeliveryResourceNotFound, wantErr: objstore.ErrNoSuchBucket},
		{name: "access denied", fail: always(fmt.Errorf("put: %w", objstore.ErrAccessDenied)), want: queries.DeliveryAccessDenied, wantErr: objstore.ErrAccessDenied},
		{name: "store unavailable", fail: always(objstore.ErrUnavailable), want: queries.DeliveryFailed, wantErr: objstore.ErrUnavailable},
		{name: "invalid key", fail: always(objstore.ErrInvalidKey), want: queries.DeliveryFailed, wantErr: objstore.ErrInvalidKey},
		{name: "sign file denied", fail: onSign(objstore.ErrAccessDenied), want: queries.DeliveryAccessDeniedSigningFile, wantErr: objstore.ErrAccessDenied},
		{name: "sign file unavailable", fail: onSign(objstore.ErrUnavailable), want: queries.DeliveryFailedSigningFile, wantErr: objstore.ErrUnavailable},
		{name: "sign file bucket gone", fail: onSign(objstore.ErrNoSuchBucket), want: queries.DeliveryResourceNotFound, wantErr: objstore.ErrNoSuchBucket},
		{name: "no signing key", signer: func(keys) resultfile.Signer { return failingSigner{} }, want: queries.DeliveryFailedSigningFile},
		{name: "key with another fingerprint", signer: func(k keys) resultfile.Signer { return wrongFingerprint{k} },
			want: queries.DeliveryFailedSigningFile, wantErr: resultfile.ErrInvalid},
		{name: "bad URI", uri: "s3:/" + bucket, want: queries.DeliveryFailed, wantErr: resultfile.ErrInvalidURI},
		{name: "bad bucket name", uri: "s3://Bad_Bucket", want: queries.DeliveryFailed, wantErr: objstore.ErrInvalidBucketName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &faultStore{Store: newStore(t), fail: tt.fail}
			if fs.fail == nil {
				fs.fail = always(nil)
			}
			k := newKeys(t, nil)
			var signer resultfile.Signer = k
			if tt.signer != nil {
				signer = tt.signer(k)
			}
			uri := tt.uri
			if uri == "" {
				uri = "s3://" + bucket
			}
			status, err := resultfile.Deliver(t.Context(), fs, signer, request(uri, someRows(3), 0))
			if status != tt.want {
				t.Errorf("status = %s, want %s", status, tt.want)
			}
			if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if got := resultfile.Temporary(err); got != errors.Is(tt.wantErr, objstore.ErrUnavailable) {
				t.Errorf("Temporary = %v", got)
			}
			for _, key := range listKeys(t, fs.Store) {
				if strings.HasSuffix(key, "/result_sign.json") {
					t.Errorf("a failed delivery wrote the sign file %s", key)
				}
			}
		})
	}
}

func TestDeliverConflicts(t *testing.T) {
	const dir = "AWSLogs/123456789012/CloudTrail-Lake/Query/2026/12/04/" + queryID
	tests := []struct {
		name string
		key  string
		body []byte
		want string
	}{
		{"another result file", dir + "/result_1.csv.gz", []byte("not ours"), queries.DeliveryFailed},
		{"another sign file", dir + "/result_sign.json", []byte(`{"version":"1.0"}`), queries.DeliveryFailedSigningFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			putRaw(t, s, tt.key, tt.body)
			status, err := resultfile.Deliver(t.Context(), s, newKeys(t, nil), request("s3://"+bucket, someRows(3), 0))
			if status != tt.want || !errors.Is(err, resultfile.ErrConflict) {
				t.Errorf("Deliver = %s, %v; want %s, ErrConflict", status, err, tt.want)
			}
			if got := get(t, s, tt.key); !bytes.Equal(got, tt.body) {
				t.Error("the delivery overwrote the object that was there")
			}
		})
	}
}

// A key rotated between a delivery that wrote everything and its repeat
// (the answer to the sign file's PUT was lost): the repeat finds a sign
// file of the same files, signed with the older key, and succeeds.
func TestDeliverAgainAfterRotation(t *testing.T) {
	s := newStore(t)
	now := completed
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	o := keyring.DefaultOptions()
	o.Bits, o.Now, o.RotateEvery, o.Overlap = 1024, clock, time.Hour, time.Minute
	kr, err := keyring.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	k := keys{kr}
	req := request("s3://"+bucket, someRows(5), 0)
	if status, err := resultfile.Deliver(t.Context(), s, k, req); status != queries.DeliverySuccess {
		t.Fatalf("Deliver = %s, %v", status, err)
	}
	first, _ := k.SigningKey()
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if second, _ := k.SigningKey(); second.Fingerprint == first.Fingerprint {
		t.Fatal("the key did not rotate")
	}
	if status, err := resultfile.Deliver(t.Context(), s, k, req); status != queries.DeliverySuccess {
		t.Fatalf("Deliver after rotation = %s, %v", status, err)
	}
	sf, err := resultfile.Verify(t.Context(), s, k, bucket, "AWSLogs/123456789012/CloudTrail-Lake/Query/2026/12/04/"+queryID)
	if err != nil {
		t.Fatal(err)
	}
	if sf.PublicKeyFingerprint != first.Fingerprint {
		t.Error("the sign file was replaced")
	}
}

func TestDeliverRefusesBadRequests(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *resultfile.Request)
	}{
		{"query id with a slash", func(r *resultfile.Request) { r.QueryID = "../../../../../../etc/passwd-0000000" }},
		{"uppercase query id", func(r *resultfile.Request) { r.QueryID = strings.ToUpper(queryID) }},
		{"short account", func(r *resultfile.Request) { r.Account = "1234" }},
		{"region with a slash", func(r *resultfile.Request) { r.Region = "us-east-1/x" }},
		{"rows that do not fit", func(r *resultfile.Request) { r.Rows = [][]*string{{str("one")}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			req := request("s3://"+bucket, someRows(2), 0)
			tt.edit(&req)
			status, err := resultfile.Deliver(t.Context(), s, newKeys(t, nil), req)
			if status != queries.DeliveryFailed || !errors.Is(err, resultfile.ErrInvalid) {
				t.Errorf("Deliver = %s, %v; want FAILED, ErrInvalid", status, err)
			}
			if keys := listKeys(t, s); len(keys) != 0 {
				t.Errorf("wrote %v", keys)
			}
		})
	}
}
