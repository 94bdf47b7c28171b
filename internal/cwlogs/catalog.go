package cwlogs

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/logfilter"
	"github.com/opentrail/opentrail/internal/reqerr"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Error kinds; every error of the engine that a client caused wraps one in
// an [*Error] whose message is meant for the client.
var (
	// ErrNotFound: ResourceNotFoundException.
	ErrNotFound = errors.New("cwlogs: not found")
	// ErrExists: ResourceAlreadyExistsException.
	ErrExists = errors.New("cwlogs: already exists")
	// ErrInvalid: InvalidParameterException.
	ErrInvalid = errors.New("cwlogs: invalid parameter")
	// ErrLimit: LimitExceededException.
	ErrLimit = errors.New("cwlogs: limit exceeded")
)

// Error is a refused request: Kind is one of the sentinels above, Msg the
// message for the client.
type Error = reqerr.Error

var errorf = reqerr.New

// Scope is an account in a Region.
type Scope struct{ Account, Region string }

// Group is a log group.
type Group struct {
	ID              string         `json:"id"`
	Account         string         `json:"account"`
	Region          string         `json:"region"`
	Name            string         `json:"name"`
	Created         int64          `json:"created"`
	RetentionInDays int            `json:"retentionInDays,omitempty"`
	Streams         []Stream       `json:"streams,omitempty"`
	MetricFilters   []MetricFilter `json:"metricFilters,omitempty"`
}

// ARN is the group's ARN as DescribeLogGroups' arn member writes it.
func (g *Group) ARN() string { return GroupARN(g.Region, g.Account, g.Name) + ":*" }

// GroupARN is a group's ARN without the trailing ":*".
func GroupARN(region, account, name string) string {
	return "arn:aws:logs:" + region + ":" + account + ":log-group:" + name
}

// ParseGroupARN splits arn:aws:logs:<r>:<a>:log-group:<name>[:*].
func ParseGroupARN(arn string) (region, account, name string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:logs:")
	if !ok {
		return "", "", "", false
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	name, ok = strings.CutPrefix(parts[2], "log-group:")
	if !ok {
		return "", "", "", false
	}
	name = strings.TrimSuffix(name, ":*")
	if !groupNameRE.MatchString(name) {
		return "", "", "", false
	}
	return parts[0], parts[1], name, true
}

// Stream is a log stream.
type Stream struct {
	Name    string `json:"name"`
	Created int64  `json:"created"`
}

// MetricFilter is a metric filter as PutMetricFilter sends it.
type MetricFilter struct {
	FilterName            string                 `json:"filterName"`
	FilterPattern         string                 `json:"filterPattern"`
	MetricTransformations []MetricTransformation `json:"metricTransformations"`
	CreationTime          int64                  `json:"creationTime"`
}

// MetricTransformation is one metricTransformations entry.
type MetricTransformation struct {
	MetricName      string            `json:"metricName"`
	MetricNamespace string            `json:"metricNamespace"`
	MetricValue     string            `json:"metricValue"`
	DefaultValue    *float64          `json:"defaultValue,omitempty"`
	Dimensions      map[string]string `json:"dimensions,omitempty"`
	Unit            string            `json:"unit,omitempty"`
}

// Limits (alerts.md §4, the model).
const (
	MaxMetricFilters = 100
	MaxGroups        = 1000000
)

var (
	groupNameRE  = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)
	filterNameRE = regexp.MustCompile(`^[^:*]{1,512}$`)
	// RetentionDays are the values PutRetentionPolicy accepts.
	RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

type catalogFile struct {
	Version int      `json:"version"`
	Groups  []*Group `json:"groups"`
}

// CatalogFile is the catalogue's file name.
const CatalogFile = "catalog.json"

func loadCatalog(dir string) (*catalogFile, error) {
	c := &catalogFile{Version: 1}
	path := filepath.Join(dir, CatalogFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cwlogs: %w", err)
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("cwlogs: %s is damaged (%v); restore it from a backup", path, err)
	}
	if c.Version != 1 {
		return nil, fmt.Errorf("cwlogs: %s has version %d; this OpenTrail reads version 1", path, c.Version)
	}
	return c, nil
}

func (c *catalogFile) save(dir string) error {
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return fmt.Errorf("cwlogs: encode catalogue: %w", err)
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(dir, CatalogFile), b, 0o644); err != nil {
		return fmt.Errorf("cwlogs: write catalogue: %w", err)
	}
	return nil
}

func (c *catalogFile) clone() *catalogFile {
	b, _ := json.Marshal(c)
	var out catalogFile
	_ = json.Unmarshal(b, &out)
	return &out
}

func (c *catalogFile) group(s Scope, name string) (int, *Group) {
	for i, g := range c.Groups {
		if g.Account == s.Account && g.Region == s.Region && g.Name == name {
			return i, g
		}
	}
	return -1, nil
}

func groupNotFound() error {
	return errorf(ErrNotFound, "The specified log group does not exist.")
}

func newGroupID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func checkGroupName(name string) error {
	if !groupNameRE.MatchString(name) {
		return errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name)
	}
	return nil
}

func checkStreamName(name string) error {
	if name == "" || len(name) > 512 || strings.ContainsAny(name, ":*") {
		return errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", name)
	}
	return nil
}

// compiledFilter is a metric filter ready to apply.
type compiledFilter struct {
	name string
	tr   *logfilter.Transformation
	mt   MetricTransformation
}

func compileFilter(f MetricFilter) (*compiledFilter, error) {
	p, err := logfilter.Parse(f.FilterPattern)
	if err != nil {
		return nil, errorf(ErrInvalid, "Invalid metric filter pattern: %v", err)
	}
	if len(f.MetricTransformations) != 1 {
		return nil, errorf(ErrInvalid, "1 validation error detected: Value at 'metricTransformations' failed to satisfy constraint: Member must have length less than or equal to 1")
	}
	mt := f.MetricTransformations[0]
	switch {
	case mt.MetricName == "" || len(mt.MetricName) > 255 || strings.ContainsAny(mt.MetricName, ":*$"):
		return nil, errorf(ErrInvalid, "Invalid metric name %q: 1 to 255 characters without ':', '*' or '$'.", mt.MetricName)
	case mt.MetricNamespace == "" || len(mt.MetricNamespace) > 255 || strings.ContainsAny(mt.MetricNamespace, ":*$"):
		return nil, errorf(ErrInvalid, "Invalid metric namespace %q: 1 to 255 characters without ':', '*' or '$'.", mt.MetricNamespace)
	}
	tr, err := logfilter.NewTransformation(p, logfilter.TransformationSpec{MetricValue: mt.MetricValue, DefaultValue: mt.DefaultValue, Dimensions: mt.Dimensions})
	if err != nil {
		return nil, errorf(ErrInvalid, "Invalid metric transformation: %v", err)
	}
	return &compiledFilter{name: f.FilterName, tr: tr, mt: mt}, nil
}

func filterIndex(g *Group, name string) int {
	return slices.IndexFunc(g.MetricFilters, func(f MetricFilter) bool { return f.FilterName == name })
}
