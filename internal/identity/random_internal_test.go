package identity

import (
	"regexp"
	"testing"
)

// TestRandomFormats samples the generators often enough that a wrong
// alphabet or length shows up, which one generated account would not.
func TestRandomFormats(t *testing.T) {
	tests := []struct {
		name string
		gen  func() string
		want *regexp.Regexp
	}{
		{"account id", randomAccountID, regexp.MustCompile(`^[1-9][0-9]{11}$`)},
		{"access key id", newAccessKeyID, regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)},
		{"secret", newSecret, regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 1000 {
				v := tc.gen()
				if !tc.want.MatchString(v) {
					t.Fatalf("%q does not match %s", v, tc.want)
				}
				if seen[v] {
					t.Fatalf("%q generated twice", v)
				}
				seen[v] = true
			}
		})
	}
}
