package api

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/testenv"
)

// cloudtrailModel is what the tests read from botocore's cloudtrail model.
type cloudtrailModel struct {
	Operations map[string]struct {
		Output struct {
			Shape string `json:"shape"`
		} `json:"output"`
		Errors []struct {
			Shape string `json:"shape"`
		} `json:"errors"`
	} `json:"operations"`
	Shapes map[string]struct {
		Type      string `json:"type"`
		Exception bool   `json:"exception"`
		Members   map[string]struct {
			Shape string `json:"shape"`
		} `json:"members"`
	} `json:"shapes"`
}

// loadModel reads the botocore model, or skips (fails in CI) when there
// is none.
func loadModel(t *testing.T) *cloudtrailModel {
	t.Helper()
	var m cloudtrailModel
	decodeModel(t, &m)
	return &m
}

// declares reports whether the model declares code for op.
func (m *cloudtrailModel) declares(op, code string) bool {
	for _, e := range m.Operations[op].Errors {
		if e.Shape == code {
			return true
		}
	}
	return false
}

// conditionPackages are the packages whose errors reach the API, by
// directory under internal/.
var conditionPackages = []string{"awsjson", "catalog", "history", "lake/dashboards", "lake/imports", "lake/queries", "lake/querygen", "lake/samples", "objstore", "selector", "sigv4", "store"}

// exportedErrors lists the exported sentinels (package-level Err* variables)
// and error types (types with an Error method) of the package in dir, as
// Go code names them: "catalog.ErrNotFound", "*catalog.LimitError".
func exportedErrors(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		pkg := f.Name.Name
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, s := range d.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						if n.IsExported() && strings.HasPrefix(n.Name, "Err") {
							names = append(names, pkg+"."+n.Name)
						}
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil || d.Name.Name != "Error" || d.Type.Params.NumFields() != 0 {
					continue
				}
				recv, ptr := d.Recv.List[0].Type, ""
				if s, ok := recv.(*ast.StarExpr); ok {
					recv, ptr = s.X, "*"
				}
				if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
					names = append(names, ptr+pkg+"."+id.Name)
				}
			}
		}
	}
	return names
}

// TestCatalogue checks the wire-error catalogue: every exported sentinel
// and error type of the packages whose errors reach the API is listed in
// conditions and resolves to its code, and every code the package can send
// is an error shape of the cloudtrail model (declared, for rows limited to
// some operations, by each of them) or one of commonCodes.
func TestCatalogue(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range conditions {
		listed[c.name] = true
	}
	want := []string{"context.Canceled", "context.DeadlineExceeded"}
	for _, p := range conditionPackages {
		want = append(want, exportedErrors(t, filepath.Join(root, "internal", p))...)
	}
	for _, name := range want {
		if !listed[name] {
			t.Errorf("%s is not in conditions (errors.go): map it in the catalogue, or list it as unreachable with the reason", name)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("conditions lists %s, which its package does not export", name)
	}

	for _, c := range conditions {
		t.Run(c.name+"@"+c.op, func(t *testing.T) {
			w := wireFor(c.op, c.err)
			if c.unreachable != "" {
				if w != nil || c.code != codeInternal {
					t.Errorf("unreachable condition resolves to %+v; want no row (InternalFailure)", w)
				}
				return
			}
			switch {
			case w == nil:
				t.Fatalf("resolves to InternalFailure, want %s", c.code)
			case w.Code != c.code:
				t.Errorf("resolves to %s, want %s", w.Code, c.code)
			case w.Message == "":
				t.Errorf("%s has no message", w.Code)
			case w.Status < 400:
				t.Errorf("%s has status %d", w.Code, w.Status)
			}
			if c.code == codeInternal {
				t.Errorf("a reachable condition must not be InternalFailure")
			}
		})
	}

	m := loadModel(t)
	shapes := map[string]bool{}
	for name, s := range m.Shapes {
		if s.Exception {
			shapes[name] = true
		}
	}
	for code, why := range commonCodes {
		if shapes[code] {
			t.Errorf("commonCodes lists %s (%s), an error shape of the model", code, why)
		}
	}
	for i, row := range catalogue {
		if !shapes[row.code] && commonCodes[row.code] == "" {
			t.Errorf("catalogue row %d: %s is neither a model error shape nor in commonCodes", i, row.code)
		}
		for _, op := range row.ops {
			if _, ok := m.Operations[op]; !ok {
				t.Errorf("catalogue row %d (%s): %s is not an operation of the model", i, row.code, op)
			} else if !m.declares(op, row.code) && commonCodes[row.code] == "" {
				t.Errorf("catalogue row %d: the model does not declare %s for %s", i, row.code, op)
			}
		}
	}
	// The codes the operations name directly, with invalid() and the
	// code constants: every string literal of the package that looks like
	// an error code.
	for _, code := range sourceCodes(t) {
		if !shapes[code] && commonCodes[code] == "" {
			t.Errorf("the package sends %s, neither a model error shape nor in commonCodes", code)
		}
	}
}

var codeLike = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(Exception|Failure|Unavailable)$`)

// sourceCodes returns the string literals of the package's non-test files
// that look like error codes.
func sourceCodes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var codes []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && codeLike.MatchString(s) && !slices.Contains(codes, s) {
					codes = append(codes, s)
				}
			}
			return true
		})
	}
	if len(codes) < 20 {
		t.Fatalf("found only %d error codes in the package source: %v", len(codes), codes)
	}
	return codes
}

// TestBucketUnavailable: a store that does not answer about the bucket is
// a 503 ServiceUnavailable naming the bucket, which the SDKs retry, not an
// InternalFailure.
func TestBucketUnavailable(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	_, err := te.c1().CreateTrail(t.Context(), mkTrail("tr1", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = aws.String(downBucket) }))
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Fatalf("CreateTrail: %v, want an API error", err)
	}
	if ae.ErrorCode() != codeServiceUnavailable || re.HTTPStatusCode() != http.StatusServiceUnavailable ||
		!strings.Contains(ae.ErrorMessage(), "bucket "+downBucket) {
		t.Errorf("CreateTrail: %d %s %q, want 503 %s naming the bucket", re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage(), codeServiceUnavailable)
	}
}
