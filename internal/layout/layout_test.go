package layout

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2015, 8, 17, 15, 1, 31, 0, time.UTC)

func TestLogKeyRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		k    LogKey
		want string
	}{
		{"plain", LogKey{Account: "111122223333", Region: "us-east-2", Time: t0, Unique: "Mu0KsOhtH1ar15ZZ"},
			"AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1501Z_Mu0KsOhtH1ar15ZZ.json.gz"},
		{"prefix and org", LogKey{Prefix: "a/b", OrgID: "o-abc123", Account: "111122223333", Region: "us-east-2", Time: t0, Unique: "x"},
			"a/b/AWSLogs/o-abc123/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1501Z_x.json.gz"},
		{"prefix containing AWSLogs", LogKey{Prefix: "AWSLogs/o-abc", Account: "111122223333", Region: "r", Time: t0, Unique: "x"},
			"AWSLogs/o-abc/AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"insight", LogKey{Account: "111122223333", Region: "us-east-2", Time: t0, Unique: "x", Insight: true},
			"AWSLogs/111122223333/CloudTrail-Insight/us-east-2/2015/08/17/111122223333_CloudTrail-Insight_us-east-2_20150817T1501Z_x.json.gz"},
		{"leading slash prefix", LogKey{Prefix: "/p", Account: "111122223333", Region: "r", Time: t0, Unique: "x"},
			"/p/AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"non-UTC time", LogKey{Account: "111122223333", Region: "r", Time: time.Date(2015, 8, 18, 1, 0, 0, 0, time.FixedZone("x", 2*3600)), Unique: "x"},
			"AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T2300Z_x.json.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.k.Build()
			if err != nil || got != tt.want {
				t.Fatalf("Build() = %q, %v; want %q", got, err, tt.want)
			}
			back, err := ParseLogKey(got)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.k
			want.Prefix = NormalizePrefix(want.Prefix)
			want.Time = want.Time.UTC().Truncate(time.Minute)
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("ParseLogKey (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogKeyBuildErrors(t *testing.T) {
	ok := LogKey{Account: "111122223333", Region: "us-east-1", Time: t0, Unique: "abc"}
	tests := []struct {
		name string
		edit func(*LogKey)
		msg  string
	}{
		{"short account", func(k *LogKey) { k.Account = "1234" }, "account"},
		{"region slash", func(k *LogKey) { k.Region = "us/east" }, "region"},
		{"region underscore", func(k *LogKey) { k.Region = "us_east" }, "region"},
		{"empty region", func(k *LogKey) { k.Region = "" }, "region"},
		{"org without o-", func(k *LogKey) { k.OrgID = "abc" }, "organization"},
		{"org upper", func(k *LogKey) { k.OrgID = "o-ABC" }, "organization"},
		{"empty unique", func(k *LogKey) { k.Unique = "" }, "unique"},
		{"unique underscore", func(k *LogKey) { k.Unique = "a_b" }, "unique"},
		{"zero time", func(k *LogKey) { k.Time = time.Time{} }, "time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := ok
			tt.edit(&k)
			_, err := k.Build()
			if !errors.Is(err, ErrInvalidPart) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Build() error = %v; want ErrInvalidPart mentioning %q", err, tt.msg)
			}
		})
	}
}

func TestParseLogKeyErrors(t *testing.T) {
	tests := []struct {
		name, key string
	}{
		{"empty", ""},
		{"digest key", "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz"},
		{"account mismatch", "AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223334_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"region mismatch", "AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_s_20150817T1501Z_x.json.gz"},
		{"date mismatch", "AWSLogs/111122223333/CloudTrail/r/2015/08/18/111122223333_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"unpadded folder", "AWSLogs/111122223333/CloudTrail/r/2015/8/17/111122223333_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"seconds in log time", "AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T150100Z_x.json.gz"},
		{"no suffix", "AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T1501Z_x.json"},
		{"double slash prefix", "p//AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"leading slash", "/AWSLogs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"no AWSLogs", "Logs/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"org not after AWSLogs", "x/o-abc/111122223333/CloudTrail/r/2015/08/17/111122223333_CloudTrail_r_20150817T1501Z_x.json.gz"},
		{"bad month", "AWSLogs/111122223333/CloudTrail/r/2015/13/17/111122223333_CloudTrail_r_20151317T1501Z_x.json.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseLogKey(tt.key)
			if !errors.Is(err, ErrNotLogKey) {
				t.Fatalf("ParseLogKey = %+v, %v; want ErrNotLogKey", k, err)
			}
		})
	}
}

func TestDigestKeyRoundTrip(t *testing.T) {
	base := DigestKey{Account: "111122223333", Region: "us-east-2", TrailName: "your-trail-name", HomeRegion: "us-east-2", End: t0}
	tests := []struct {
		name string
		edit func(*DigestKey)
		want string
	}{
		{"aws example", func(*DigestKey) {},
			"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz"},
		{"org, prefix, other home", func(k *DigestKey) { k.Prefix, k.OrgID, k.HomeRegion = "p/", "o-x1", "eu-west-1" },
			"p/AWSLogs/o-x1/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_eu-west-1_20150817T150131Z.json.gz"},
		{"underscored name", func(k *DigestKey) { k.TrailName = "a_b_us-east-1_20150817T150131Z" },
			"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_a_b_us-east-1_20150817T150131Z_us-east-2_20150817T150131Z.json.gz"},
		{"backfill", func(k *DigestKey) { k.Backfill = true },
			"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z_backfill.json.gz"},
		{"subsecond end", func(k *DigestKey) { k.End = t0.Add(999 * time.Millisecond) },
			"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := base
			tt.edit(&k)
			got, err := k.Build()
			if err != nil || got != tt.want {
				t.Fatalf("Build() = %q, %v; want %q", got, err, tt.want)
			}
			// validate-logs reads the timestamp positionally (P6).
			ts := got[len(got)-len(".json.gz")-16 : len(got)-len(".json.gz")]
			if k.Backfill {
				ts = got[len(got)-33 : len(got)-17]
			}
			if ts != "20150817T150131Z" {
				t.Errorf("positional timestamp = %q", ts)
			}
			back, err := ParseDigestKey(got)
			if err != nil {
				t.Fatal(err)
			}
			want := k
			want.Prefix = NormalizePrefix(want.Prefix)
			want.End = want.End.UTC().Truncate(time.Second)
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("ParseDigestKey (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDigestKeyErrors(t *testing.T) {
	for _, key := range []string{
		"",
		"AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_us-east-2_20150817T150131Z.json.gz",    // no trail name
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T1501Z.json.gz",    // minutes only
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/16/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz",  // start date folder
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_US-EAST-2_20150817T150131Z.json.gz",  // home region case
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json",     // suffix
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z_backfill", // suffix
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz/x",
	} {
		if k, err := ParseDigestKey(key); !errors.Is(err, ErrNotDigestKey) {
			t.Errorf("ParseDigestKey(%q) = %+v, %v; want ErrNotDigestKey", key, k, err)
		}
	}
}

func TestDigestKeyBuildErrors(t *testing.T) {
	ok := DigestKey{Account: "111122223333", Region: "us-east-2", TrailName: "t", HomeRegion: "us-east-2", End: t0}
	for name, edit := range map[string]func(*DigestKey){
		"empty name":      func(k *DigestKey) { k.TrailName = "" },
		"slash in name":   func(k *DigestKey) { k.TrailName = "a/b" },
		"empty home":      func(k *DigestKey) { k.HomeRegion = "" },
		"underscore home": func(k *DigestKey) { k.HomeRegion = "us_east" },
		"year 10000":      func(k *DigestKey) { k.End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		t.Run(name, func(t *testing.T) {
			k := ok
			edit(&k)
			if _, err := k.Build(); !errors.Is(err, ErrInvalidPart) {
				t.Fatalf("Build() error = %v; want ErrInvalidPart", err)
			}
		})
	}
}

func TestDigestListPrefix(t *testing.T) {
	tests := []struct {
		prefix, org, want string
	}{
		{"", "", "AWSLogs/111122223333/CloudTrail-Digest/us-east-1"},
		{"logs/", "", "logs/AWSLogs/111122223333/CloudTrail-Digest/us-east-1"},
		{"logs", "o-abc", "logs/AWSLogs/o-abc/111122223333/CloudTrail-Digest/us-east-1"},
	}
	for _, tt := range tests {
		if got := DigestListPrefix(tt.prefix, tt.org, "111122223333", "us-east-1"); got != tt.want {
			t.Errorf("DigestListPrefix(%q, %q) = %q; want %q", tt.prefix, tt.org, got, tt.want)
		}
		// Every digest key of that chain starts with prefix + "/".
		key, _ := DigestKey{Prefix: tt.prefix, OrgID: tt.org, Account: "111122223333", Region: "us-east-1", TrailName: "t", HomeRegion: "us-east-1", End: t0}.Build()
		if !strings.HasPrefix(key, tt.want+"/") {
			t.Errorf("key %q is not under %q", key, tt.want)
		}
	}
}

func TestNewUnique(t *testing.T) {
	seen := map[string]bool{}
	counts := map[byte]int{}
	for range 2000 {
		u := NewUnique()
		if len(u) != UniqueLen || !all(u, isAlnum) {
			t.Fatalf("NewUnique() = %q", u)
		}
		if seen[u] {
			t.Fatalf("NewUnique() repeated %q", u)
		}
		seen[u] = true
		for i := range len(u) {
			counts[u[i]]++
		}
	}
	if len(counts) != 62 {
		t.Errorf("NewUnique used %d distinct characters in 32000 draws; want 62", len(counts))
	}
}
