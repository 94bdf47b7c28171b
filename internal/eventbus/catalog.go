package eventbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/eventpattern"
	"github.com/opentrail/opentrail/internal/reqerr"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Error kinds. Every error of the catalogue wraps one of them in an
// [*Error] whose message is meant for the client.
var (
	// ErrNotFound: the rule, bus, connection or API destination does not
	// exist (ResourceNotFoundException).
	ErrNotFound = errors.New("eventbus: not found")
	// ErrExists: a connection or API destination of that name exists
	// (ResourceAlreadyExistsException).
	ErrExists = errors.New("eventbus: already exists")
	// ErrLimit: a quota is reached (LimitExceededException).
	ErrLimit = errors.New("eventbus: limit exceeded")
	// ErrInvalid: a member is malformed (ValidationException).
	ErrInvalid = errors.New("eventbus: invalid")
	// ErrBadPattern: the event pattern is invalid
	// (InvalidEventPatternException).
	ErrBadPattern = errors.New("eventbus: invalid event pattern")
)

// Error is a refused request: Kind is one of the sentinels above, Msg the
// message for the client.
type Error = reqerr.Error

var errorf = reqerr.New

// Rule states (the model's RuleState).
const (
	StateEnabled    = "ENABLED"
	StateDisabled   = "DISABLED"
	StateEnabledAll = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
)

// DefaultBus is the only event bus.
const DefaultBus = "default"

// Limits (alerts.md §3.4, the EventBridge quotas page).
const (
	MaxRulesPerBus     = 300
	MaxWildcardRules   = 30
	MaxTargetsPerRule  = 5
	MaxConnections     = 50
	MaxAPIDestinations = 50
	DefaultRetries     = 185
	DefaultMaxAge      = 86400
)

// Rule is one rule of the default bus with its targets.
type Rule struct {
	Account      string   `json:"account"`
	Region       string   `json:"region"`
	Bus          string   `json:"bus"`
	Name         string   `json:"name"`
	EventPattern string   `json:"eventPattern,omitempty"`
	State        string   `json:"state"`
	Description  string   `json:"description,omitempty"`
	RoleARN      string   `json:"roleArn,omitempty"`
	CreatedBy    string   `json:"createdBy"`
	Targets      []Target `json:"targets,omitempty"`
	Generation   uint64   `json:"generation"`
}

// ARN returns the rule's ARN (arn:aws:events:<r>:<a>:rule/<name>).
func (r *Rule) ARN() string { return RuleARN(r.Region, r.Account, r.Name) }

// RuleARN builds a default-bus rule ARN.
func RuleARN(region, account, name string) string {
	return "arn:aws:events:" + region + ":" + account + ":rule/" + name
}

// Target is a rule's target, as PutTargets sends it (the members OpenTrail
// uses; the JSON names are the API's).
type Target struct {
	ID               string            `json:"Id"`
	ARN              string            `json:"Arn"`
	RoleARN          string            `json:"RoleArn,omitempty"`
	Input            string            `json:"Input,omitempty"`
	InputPath        string            `json:"InputPath,omitempty"`
	InputTransformer *InputTransformer `json:"InputTransformer,omitempty"`
	HTTPParameters   *HTTPParameters   `json:"HttpParameters,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
}

// InputTransformer is a target's InputTransformer.
type InputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
	InputTemplate string            `json:"InputTemplate"`
}

// HTTPParameters are an API destination target's path, header and query
// string parameters.
type HTTPParameters struct {
	PathParameterValues   []string          `json:"PathParameterValues,omitempty"`
	HeaderParameters      map[string]string `json:"HeaderParameters,omitempty"`
	QueryStringParameters map[string]string `json:"QueryStringParameters,omitempty"`
}

// RetryPolicy bounds a target's retries.
type RetryPolicy struct {
	MaximumRetryAttempts     *int `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int `json:"MaximumEventAgeInSeconds,omitempty"`
}

// DeadLetterConfig names a target's dead-letter queue.
type DeadLetterConfig struct {
	ARN string `json:"Arn,omitempty"`
}

// retries returns the target's retry limits.
func (t *Target) retries() (attempts int, maxAge time.Duration) {
	attempts, age := DefaultRetries, DefaultMaxAge
	if p := t.RetryPolicy; p != nil {
		if p.MaximumRetryAttempts != nil {
			attempts = *p.MaximumRetryAttempts
		}
		if p.MaximumEventAgeInSeconds != nil {
			age = *p.MaximumEventAgeInSeconds
		}
	}
	return attempts, time.Duration(age) * time.Second
}

// Connection authorises calls to API destinations.
type Connection struct {
	Account           string     `json:"account"`
	Region            string     `json:"region"`
	Name              string     `json:"name"`
	Description       string     `json:"description,omitempty"`
	AuthorizationType string     `json:"authorizationType"`
	Auth              AuthParams `json:"auth"`
	State             string     `json:"state"`
	StateReason       string     `json:"stateReason,omitempty"`
	ID                string     `json:"id"`
	Created           time.Time  `json:"created"`
	Modified          time.Time  `json:"modified"`
	Authorized        time.Time  `json:"authorized,omitzero"`
}

// ARN returns the connection's ARN.
func (c *Connection) ARN() string {
	return "arn:aws:events:" + c.Region + ":" + c.Account + ":connection/" + c.Name + "/" + c.ID
}

// Authorization types and connection states (the model's enums).
const (
	AuthAPIKey = "API_KEY"
	AuthBasic  = "BASIC"
	AuthOAuth  = "OAUTH_CLIENT_CREDENTIALS"

	ConnAuthorized   = "AUTHORIZED"
	ConnDeauthorized = "DEAUTHORIZED"
)

// AuthParams are a connection's AuthParameters, secrets included.
type AuthParams struct {
	Basic      *BasicAuth      `json:"BasicAuthParameters,omitempty"`
	OAuth      *OAuth          `json:"OAuthParameters,omitempty"`
	APIKey     *APIKeyAuth     `json:"ApiKeyAuthParameters,omitempty"`
	Invocation *ConnHTTPParams `json:"InvocationHttpParameters,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	Username string `json:"Username,omitempty"`
	Password string `json:"Password,omitempty"`
}

// APIKeyAuth is a header carrying a key.
type APIKeyAuth struct {
	APIKeyName  string `json:"ApiKeyName,omitempty"`
	APIKeyValue string `json:"ApiKeyValue,omitempty"`
}

// OAuth is the OAuth client-credentials flow.
type OAuth struct {
	ClientParameters      *OAuthClient    `json:"ClientParameters,omitempty"`
	AuthorizationEndpoint string          `json:"AuthorizationEndpoint,omitempty"`
	HTTPMethod            string          `json:"HttpMethod,omitempty"`
	OAuthHTTPParameters   *ConnHTTPParams `json:"OAuthHttpParameters,omitempty"`
}

// OAuthClient is the client id and secret.
type OAuthClient struct {
	ClientID     string `json:"ClientID,omitempty"`
	ClientSecret string `json:"ClientSecret,omitempty"`
}

// ConnHTTPParams are parameters a connection adds to every request.
type ConnHTTPParams struct {
	HeaderParameters      []ConnParam `json:"HeaderParameters,omitempty"`
	QueryStringParameters []ConnParam `json:"QueryStringParameters,omitempty"`
	BodyParameters        []ConnParam `json:"BodyParameters,omitempty"`
}

// ConnParam is one key and value; IsValueSecret hides the value from
// Describe*.
type ConnParam struct {
	Key           string `json:"Key,omitempty"`
	Value         string `json:"Value,omitempty"`
	IsValueSecret bool   `json:"IsValueSecret,omitempty"`
}

// APIDestination is an HTTPS endpoint a rule can target.
type APIDestination struct {
	Account       string    `json:"account"`
	Region        string    `json:"region"`
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	ConnectionARN string    `json:"connectionArn"`
	Endpoint      string    `json:"endpoint"`
	Method        string    `json:"method"`
	RateLimit     int       `json:"rateLimit"`
	State         string    `json:"state"`
	ID            string    `json:"id"`
	Created       time.Time `json:"created"`
	Modified      time.Time `json:"modified"`
}

// ARN returns the API destination's ARN.
func (d *APIDestination) ARN() string {
	return "arn:aws:events:" + d.Region + ":" + d.Account + ":api-destination/" + d.Name + "/" + d.ID
}

// DefaultRateLimit is the invocation rate of an API destination created
// without one (the console's default).
const DefaultRateLimit = 300

// catalogFile is the on-disk catalogue (docs/format/eventbus.md).
type catalogFile struct {
	Version         int               `json:"version"`
	Rules           []*Rule           `json:"rules"`
	Connections     []*Connection     `json:"connections"`
	APIDestinations []*APIDestination `json:"apiDestinations"`
}

const catalogVersion = 1

// CatalogFile is the catalogue's file name in the engine's directory.
const CatalogFile = "catalog.json"

// catalog holds the rules, connections and API destinations; every change
// is written before it is visible.
type catalog struct {
	mu   sync.RWMutex
	path string
	f    catalogFile
	gen  uint64 // bumped on every change to rules
}

func openCatalog(dir string) (*catalog, error) {
	c := &catalog{path: filepath.Join(dir, CatalogFile), f: catalogFile{Version: catalogVersion}}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eventbus: read %s: %w", c.path, err)
	}
	if err := json.Unmarshal(b, &c.f); err != nil {
		return nil, fmt.Errorf("eventbus: %s is damaged (%v); restore it from a backup or move it aside to start with no rules", c.path, err)
	}
	if c.f.Version != catalogVersion {
		return nil, fmt.Errorf("eventbus: %s has version %d; this OpenTrail reads version %d", c.path, c.f.Version, catalogVersion)
	}
	return c, nil
}

// saveLocked writes the catalogue; the caller holds mu for writing.
func (c *catalog) saveLocked() error {
	b, err := json.MarshalIndent(&c.f, "", " ")
	if err != nil {
		return fmt.Errorf("eventbus: encode catalogue: %w", err)
	}
	if err := fileutil.WriteFileAtomic(c.path, b, 0o600); err != nil {
		return fmt.Errorf("eventbus: write catalogue: %w", err)
	}
	return nil
}

// update runs fn on a copy of the catalogue and, if it succeeds, writes
// the copy and makes it current.
func (c *catalog) update(fn func(f *catalogFile) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.f.clone()
	if err := fn(&next); err != nil {
		return err
	}
	old := c.f
	c.f = next
	if err := c.saveLocked(); err != nil {
		c.f = old
		return err
	}
	c.gen++
	return nil
}

// clone deep-copies the catalogue through JSON: small, rare, and exact.
func (f *catalogFile) clone() catalogFile {
	b, _ := json.Marshal(f)
	var out catalogFile
	_ = json.Unmarshal(b, &out)
	return out
}

// Scope is an account's bus in one Region.
type Scope struct{ Account, Region string }

var (
	ruleNameRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)
	connNameRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)
	targetIDRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)
)

// CheckBus accepts the default bus by name or ARN.
func CheckBus(s Scope, bus string) error {
	if bus == "" || bus == DefaultBus || bus == "arn:aws:events:"+s.Region+":"+s.Account+":event-bus/default" {
		return nil
	}
	return errorf(ErrNotFound, "Event bus %s does not exist.", bus)
}

func (f *catalogFile) rule(s Scope, name string) (int, *Rule) {
	for i, r := range f.Rules {
		if r.Account == s.Account && r.Region == s.Region && r.Name == name {
			return i, r
		}
	}
	return -1, nil
}

func notFoundRule(name string) error {
	return errorf(ErrNotFound, "Rule %s does not exist on EventBus default.", name)
}

// PutRuleInput is PutRule's input after the API has decoded it; the
// pattern is already validated.
type PutRuleInput struct {
	Name, Bus, EventPattern, State, Description, RoleARN, ScheduleExpression string
}

// PutRule creates or replaces a rule (keeping its targets) and returns its
// ARN.
func (e *Engine) PutRule(s Scope, in PutRuleInput) (string, error) {
	if err := CheckBus(s, in.Bus); err != nil {
		return "", err
	}
	if !ruleNameRE.MatchString(in.Name) {
		return "", errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", in.Name)
	}
	if in.ScheduleExpression != "" {
		return "", errorf(ErrInvalid, "ScheduleExpression is not supported by OpenTrail: its rules match CloudTrail events only.")
	}
	if in.EventPattern == "" {
		return "", errorf(ErrInvalid, "Parameter(s) EventPattern must be specified.")
	}
	if len(in.Description) > 512 {
		return "", errorf(ErrInvalid, "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512")
	}
	switch in.State {
	case "":
		in.State = StateEnabled
	case StateEnabled, StateDisabled, StateEnabledAll:
	default:
		return "", errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]", in.State)
	}
	p, err := eventpattern.Parse([]byte(in.EventPattern))
	if err != nil {
		return "", &Error{Kind: ErrBadPattern, Msg: err.Error()}
	}
	err = e.cat.update(func(f *catalogFile) error {
		if p.HasWildcard() && f.countWildcards(s, in.Name) >= e.opts.MaxWildcardRules {
			return errorf(ErrLimit, "The requested resource exceeds the maximum number allowed: at most %d rules of a bus may use wildcard.", e.opts.MaxWildcardRules)
		}
		_, r := f.rule(s, in.Name)
		if r == nil {
			if f.countRules(s) >= e.opts.MaxRulesPerBus {
				return errorf(ErrLimit, "The requested resource exceeds the maximum number allowed.")
			}
			r = &Rule{Account: s.Account, Region: s.Region, Bus: DefaultBus, Name: in.Name, CreatedBy: s.Account}
			f.Rules = append(f.Rules, r)
		}
		r.EventPattern, r.State, r.Description, r.RoleARN = in.EventPattern, in.State, in.Description, in.RoleARN
		r.Generation++
		return nil
	})
	if err != nil {
		return "", err
	}
	e.rulesChanged()
	return RuleARN(s.Region, s.Account, in.Name), nil
}

// countWildcards counts the scope's rules other than skip whose patterns
// use wildcard.
func (f *catalogFile) countWildcards(s Scope, skip string) int {
	n := 0
	for _, r := range f.Rules {
		if r.Account != s.Account || r.Region != s.Region || r.Name == skip {
			continue
		}
		if p, err := eventpattern.Parse([]byte(r.EventPattern)); err == nil && p.HasWildcard() {
			n++
		}
	}
	return n
}

func (f *catalogFile) countRules(s Scope) int {
	n := 0
	for _, r := range f.Rules {
		if r.Account == s.Account && r.Region == s.Region {
			n++
		}
	}
	return n
}

// Rule returns a copy of a rule.
func (e *Engine) Rule(s Scope, bus, name string) (Rule, error) {
	if err := CheckBus(s, bus); err != nil {
		return Rule{}, err
	}
	e.cat.mu.RLock()
	defer e.cat.mu.RUnlock()
	_, r := e.cat.f.rule(s, name)
	if r == nil {
		return Rule{}, notFoundRule(name)
	}
	out := *r
	out.Targets = slices.Clone(r.Targets)
	return out, nil
}

// Rules returns the bus's rules whose names start with prefix, by name.
func (e *Engine) Rules(s Scope, bus, prefix string) ([]Rule, error) {
	if err := CheckBus(s, bus); err != nil {
		return nil, err
	}
	e.cat.mu.RLock()
	defer e.cat.mu.RUnlock()
	var out []Rule
	for _, r := range e.cat.f.Rules {
		if r.Account == s.Account && r.Region == s.Region && strings.HasPrefix(r.Name, prefix) {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteRule deletes a rule; a rule with targets is refused unless force.
// Deleting a missing rule succeeds, as at AWS.
func (e *Engine) DeleteRule(s Scope, bus, name string, force bool) error {
	if err := CheckBus(s, bus); err != nil {
		return err
	}
	err := e.cat.update(func(f *catalogFile) error {
		i, r := f.rule(s, name)
		if r == nil {
			return nil
		}
		if len(r.Targets) > 0 && !force {
			return errorf(ErrInvalid, "Rule can't be deleted since it has targets.")
		}
		f.Rules = slices.Delete(f.Rules, i, i+1)
		return nil
	})
	if err == nil {
		e.rulesChanged()
	}
	return err
}

// SetRuleState enables or disables a rule. Enabling keeps
// ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS.
func (e *Engine) SetRuleState(s Scope, bus, name string, enable bool) error {
	if err := CheckBus(s, bus); err != nil {
		return err
	}
	err := e.cat.update(func(f *catalogFile) error {
		_, r := f.rule(s, name)
		if r == nil {
			return notFoundRule(name)
		}
		switch {
		case !enable:
			r.State = StateDisabled
		case r.State == StateDisabled:
			r.State = StateEnabled
		}
		r.Generation++
		return nil
	})
	if err == nil {
		e.rulesChanged()
	}
	return err
}

// TargetFailure is one PutTargets or RemoveTargets entry that failed.
type TargetFailure struct {
	TargetID, Code, Message string
}

// PutTargets adds or replaces targets of a rule. Entries the engine
// cannot deliver to fail one by one; the rest are stored.
func (e *Engine) PutTargets(s Scope, bus, rule string, targets []Target) ([]TargetFailure, error) {
	if err := CheckBus(s, bus); err != nil {
		return nil, err
	}
	if len(targets) == 0 || len(targets) > 10 {
		return nil, errorf(ErrInvalid, "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	var failed []TargetFailure
	err := e.cat.update(func(f *catalogFile) error {
		failed = nil
		_, r := f.rule(s, rule)
		if r == nil {
			return notFoundRule(rule)
		}
		for _, t := range targets {
			if err := e.checkTarget(f, s, &t); err != nil {
				failed = append(failed, TargetFailure{TargetID: t.ID, Code: "ValidationException", Message: err.Error()})
				continue
			}
			i := slices.IndexFunc(r.Targets, func(o Target) bool { return o.ID == t.ID })
			if i < 0 {
				if len(r.Targets) >= MaxTargetsPerRule {
					return errorf(ErrLimit, "The requested resource exceeds the maximum number allowed.")
				}
				r.Targets = append(r.Targets, t)
			} else {
				r.Targets[i] = t
			}
		}
		r.Generation++
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.rulesChanged()
	return failed, nil
}

// checkTarget validates one target against the catalogue.
func (e *Engine) checkTarget(f *catalogFile, s Scope, t *Target) error {
	if !targetIDRE.MatchString(t.ID) {
		return fmt.Errorf("target Id %q must be 1 to 64 of [.-_A-Za-z0-9]", t.ID)
	}
	n := 0
	if t.Input != "" {
		n++
		if !json.Valid([]byte(t.Input)) {
			return errors.New("Input is not valid JSON")
		}
		if len(t.Input) > 8192 {
			return errors.New("Input is longer than 8192 characters")
		}
	}
	if t.InputPath != "" {
		n++
		if len(t.InputPath) > 256 {
			return errors.New("InputPath is longer than 256 characters")
		}
	}
	if t.InputTransformer != nil {
		n++
	}
	if n > 1 {
		return errors.New("Only one of Input, InputPath, or InputTransformer must be provided.")
	}
	if err := e.checkInput(t); err != nil {
		return err
	}
	if p := t.RetryPolicy; p != nil {
		if v := p.MaximumRetryAttempts; v != nil && (*v < 0 || *v > 185) {
			return errors.New("RetryPolicy.MaximumRetryAttempts must be between 0 and 185")
		}
		if v := p.MaximumEventAgeInSeconds; v != nil && (*v < 60 || *v > 86400) {
			return errors.New("RetryPolicy.MaximumEventAgeInSeconds must be between 60 and 86400")
		}
	}
	switch {
	case strings.HasPrefix(t.ARN, "arn:aws:sns:"):
		if e.opts.Topics != nil && !e.opts.Topics.TopicExists(s.Account, t.ARN) {
			return fmt.Errorf("SNS topic %s does not exist", t.ARN)
		}
	case strings.HasPrefix(t.ARN, "arn:aws:events:") && strings.Contains(t.ARN, ":api-destination/"):
		if f.destinationByARN(s, t.ARN) == nil {
			return fmt.Errorf("API destination %s does not exist", t.ARN)
		}
	default:
		return fmt.Errorf("target %s is not supported by OpenTrail: use an SNS topic or an API destination", t.ARN)
	}
	return nil
}

// RemoveTargets removes targets by id; unknown ids fail one by one.
func (e *Engine) RemoveTargets(s Scope, bus, rule string, ids []string) ([]TargetFailure, error) {
	if err := CheckBus(s, bus); err != nil {
		return nil, err
	}
	var failed []TargetFailure
	err := e.cat.update(func(f *catalogFile) error {
		failed = nil
		_, r := f.rule(s, rule)
		if r == nil {
			return notFoundRule(rule)
		}
		for _, id := range ids {
			i := slices.IndexFunc(r.Targets, func(o Target) bool { return o.ID == id })
			if i < 0 {
				failed = append(failed, TargetFailure{TargetID: id, Code: "ResourceNotFoundException", Message: "Target " + id + " does not exist on rule " + rule + "."})
				continue
			}
			r.Targets = slices.Delete(r.Targets, i, i+1)
		}
		r.Generation++
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.rulesChanged()
	return failed, nil
}

// RuleNamesByTarget returns the names of the rules with a target of arn.
func (e *Engine) RuleNamesByTarget(s Scope, bus, arn string) ([]string, error) {
	if err := CheckBus(s, bus); err != nil {
		return nil, err
	}
	e.cat.mu.RLock()
	defer e.cat.mu.RUnlock()
	var out []string
	for _, r := range e.cat.f.Rules {
		if r.Account == s.Account && r.Region == s.Region &&
			slices.ContainsFunc(r.Targets, func(t Target) bool { return t.ARN == arn }) {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}
