package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	// The README's snippet uses it; importing it here keeps it in go.mod.
	_ "github.com/aws/aws-sdk-go-v2/config"
)

// TestREADMEGoSnippetCompiles type-checks the Go snippet in README.md, so
// the example users copy stays correct.
func TestREADMEGoSnippetCompiles(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```go snippet")
	}
	src := `package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

func main() {
	ctx := context.Background()
` + indent(string(m[1])) + `
	_, _ = out, err
}
`
	// Inside the module, so the module's dependencies resolve.
	dir, err := os.MkdirTemp(".", "readme-snippet-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "vet", "./"+filepath.Base(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("README Go snippet does not compile:\n%s\n%s", out, src)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("\t" + l + "\n")
	}
	return b.String()
}
