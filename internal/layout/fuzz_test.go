package layout

import (
	"errors"
	"testing"
	"time"
)

// FuzzLogKey builds keys from arbitrary parts: any key Build returns must
// parse back to the same key.
func FuzzLogKey(f *testing.F) {
	f.Add("", "", "111122223333", "us-east-2", int64(1438395000), "Mu0KsOhtH1ar15ZZ", false)
	f.Add("logs/", "o-exampleorgid", "111111111111", "eu-west-1", int64(1767225600), "abc", true)
	f.Add("AWSLogs", "", "111111111111", "r", int64(0), "a", false)
	f.Fuzz(func(t *testing.T, prefix, org, account, region string, sec int64, unique string, insight bool) {
		k := LogKey{Prefix: prefix, OrgID: org, Account: account, Region: region, Time: time.Unix(sec, 0), Unique: unique, Insight: insight}
		key, err := k.Build()
		if err != nil {
			if !errors.Is(err, ErrInvalidPart) {
				t.Fatalf("Build: %v", err)
			}
			return
		}
		back, err := ParseLogKey(key)
		if err != nil {
			t.Fatalf("ParseLogKey(%q): %v", key, err)
		}
		again, err := back.Build()
		if err != nil || again != key {
			t.Fatalf("rebuild of %q = %q, %v", key, again, err)
		}
	})
}

// FuzzParseLogKey parses arbitrary strings: it never panics, and anything
// that parses builds back to the same string.
func FuzzParseLogKey(f *testing.F) {
	for _, s := range []string{
		"AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz",
		"p/AWSLogs/o-abc/111122223333/CloudTrail-Insight/us-east-2/2015/08/01/111122223333_CloudTrail-Insight_us-east-2_20150801T0210Z_M.json.gz",
		"/AWSLogs/111122223333/CloudTrail/r/2015/08/01/111122223333_CloudTrail_r_20150801T210Z_M.json.gz",
		"", "////////",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseLogKey(s)
		if err != nil {
			if !errors.Is(err, ErrNotLogKey) {
				t.Fatalf("ParseLogKey(%q): %v", s, err)
			}
			return
		}
		if got, err := k.Build(); err != nil || got != s {
			t.Fatalf("ParseLogKey(%q) rebuilds to %q, %v", s, got, err)
		}
	})
}

func FuzzDigestKey(f *testing.F) {
	f.Add("", "", "111122223333", "us-east-2", "your-trail-name", "us-east-2", int64(1439823691), false)
	f.Add("p//", "o-x", "111122223333", "eu-west-1", "a_b", "us-east-1", int64(1767225600), true)
	f.Fuzz(func(t *testing.T, prefix, org, account, region, name, home string, sec int64, backfill bool) {
		k := DigestKey{Prefix: prefix, OrgID: org, Account: account, Region: region, TrailName: name, HomeRegion: home, End: time.Unix(sec, 0), Backfill: backfill}
		key, err := k.Build()
		if err != nil {
			if !errors.Is(err, ErrInvalidPart) {
				t.Fatalf("Build: %v", err)
			}
			return
		}
		back, err := ParseDigestKey(key)
		if err != nil {
			t.Fatalf("ParseDigestKey(%q): %v", key, err)
		}
		again, err := back.Build()
		if err != nil || again != key {
			t.Fatalf("rebuild of %q = %q, %v", key, again, err)
		}
		if back.TrailName != name || back.HomeRegion != home || back.Region != region {
			t.Fatalf("ParseDigestKey(%q) = %+v; want name %q home %q", key, back, name, home)
		}
	})
}

func FuzzParseDigestKey(f *testing.F) {
	for _, s := range []string{
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
		"x/AWSLogs/o-1/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_a_b_us-east-2_20150817T150131Z_backfill.json.gz",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseDigestKey(s)
		if err != nil {
			if !errors.Is(err, ErrNotDigestKey) {
				t.Fatalf("ParseDigestKey(%q): %v", s, err)
			}
			return
		}
		if got, err := k.Build(); err != nil || got != s {
			t.Fatalf("ParseDigestKey(%q) rebuilds to %q, %v", s, got, err)
		}
	})
}
