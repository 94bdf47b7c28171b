package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxRecordSize is the largest record OpenTrail accepts (256 KB, the
// CloudTrail event size quota).
const MaxRecordSize = 256 * 1024

// Event is a validated record ready to store: its compact JSON bytes and the
// values derived from them.
type Event struct {
	Raw []byte // compact JSON, exactly what is stored and returned
	Summary
}

// Summary is what the store and LookupEvents need from a record, derived once
// when the record is accepted.
type Summary struct {
	EventID     string
	EventTime   time.Time // second precision, UTC
	EventName   string    // insightDetails.eventName for Insights events
	EventSource string    // insightDetails.eventSource for Insights events
	Account     string    // recipientAccountId, else userIdentity.accountId
	Region      string    // awsRegion
	Category    string    // eventCategory, derived when absent
	ReadOnly    *bool
	Username    string // see DeriveUsername
	AccessKeyID string
	Resources   []LookupResource
}

// Insight reports whether the event is a CloudTrail Insights event.
func (s *Summary) Insight() bool { return s.Category == CategoryInsight }

// InEventHistory reports whether LookupEvents can return the event: management
// events and Insights events (the latter only with EventCategory=insight).
func (s *Summary) InEventHistory() bool {
	return s.Category == CategoryMgmt || s.Category == CategoryInsight
}

// LookupResource is one element of LookupEvents' Resources list.
type LookupResource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

// ValidationError says why a record was rejected. Field is the JSON path of
// the offending member ("" for the whole record).
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "invalid record: " + e.Reason
	}
	return "invalid record: " + e.Field + ": " + e.Reason
}

// ErrInvalid matches every *ValidationError with errors.Is.
var ErrInvalid = errors.New("invalid record")

// Is makes errors.Is(err, ErrInvalid) true for validation errors.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// summaryDoc is the subset of a record that Parse decodes. Decoding into it
// skips every other member without allocating.
type summaryDoc struct {
	EventVersion       *string `json:"eventVersion"`
	EventTime          *string `json:"eventTime"`
	EventSource        string  `json:"eventSource"`
	EventName          string  `json:"eventName"`
	AWSRegion          string  `json:"awsRegion"`
	EventID            string  `json:"eventID"`
	EventType          string  `json:"eventType"`
	EventCategory      string  `json:"eventCategory"`
	ReadOnly           *bool   `json:"readOnly"`
	ManagementEvent    *bool   `json:"managementEvent"`
	RecipientAccountID string  `json:"recipientAccountId"`
	UserIdentity       *struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
		InvokedBy   string `json:"invokedBy"`
	} `json:"userIdentity"`
	Resources []struct {
		ARN       string `json:"ARN"`
		ARNPrefix string `json:"ARNPrefix"`
		Type      string `json:"type"`
	} `json:"resources"`
	InsightDetails *struct {
		EventName   string `json:"eventName"`
		EventSource string `json:"eventSource"`
	} `json:"insightDetails"`
}

// Parse validates a record and derives its Summary. raw may contain
// insignificant whitespace; Event.Raw is its compact form. Parse does not
// keep a reference to raw.
func Parse(raw []byte) (Event, error) {
	if len(raw) > MaxRecordSize {
		return Event{}, invalid("", "record is %d bytes, larger than the 256 KB limit", len(raw))
	}
	var compact bytes.Buffer
	compact.Grow(len(raw))
	if err := json.Compact(&compact, raw); err != nil {
		return Event{}, invalid("", "not valid JSON: %v", err)
	}
	b := compact.Bytes()
	if len(b) == 0 || b[0] != '{' {
		return Event{}, invalid("", "not a JSON object")
	}
	var d summaryDoc
	if err := json.Unmarshal(b, &d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Event{}, invalid(te.Field, "has JSON type %s, want %s", te.Value, te.Type)
		}
		return Event{}, invalid("", "%v", err)
	}
	s, err := summarize(&d)
	if err != nil {
		return Event{}, err
	}
	return Event{Raw: b, Summary: s}, nil
}

func summarize(d *summaryDoc) (Summary, error) {
	var s Summary
	if d.EventTime == nil {
		return s, invalid("eventTime", "missing; every CloudTrail record has an eventTime")
	}
	t, err := time.Parse(time.RFC3339Nano, *d.EventTime)
	if err != nil {
		return s, invalid("eventTime", "%q is not an ISO 8601 time like 2023-07-10T11:42:36Z", *d.EventTime)
	}
	s.EventTime = t.UTC().Truncate(time.Second)
	if d.EventID == "" {
		return s, invalid("eventID", "missing")
	}
	if len(d.EventID) > 128 {
		return s, invalid("eventID", "longer than 128 characters")
	}
	s.EventID = d.EventID
	s.Region = d.AWSRegion
	if !ValidRegion(s.Region) {
		if s.Region == "" {
			return s, invalid("awsRegion", "missing")
		}
		return s, invalid("awsRegion", "%q is not a region name (lowercase letters, digits and '-', at most 32)", s.Region)
	}
	s.Account = d.RecipientAccountID
	if s.Account == "" && d.UserIdentity != nil {
		s.Account = d.UserIdentity.AccountID
	}
	if !ValidAccountID(s.Account) {
		if s.Account == "" {
			return s, invalid("recipientAccountId", "missing, and userIdentity.accountId is missing too")
		}
		return s, invalid("recipientAccountId", "%q is not a 12-digit account id", s.Account)
	}
	s.Category = deriveCategory(d)
	s.ReadOnly = d.ReadOnly
	if s.Category == CategoryInsight {
		if d.InsightDetails != nil {
			s.EventName = d.InsightDetails.EventName
			s.EventSource = d.InsightDetails.EventSource
		}
	} else {
		if d.EventSource == "" {
			return s, invalid("eventSource", "missing")
		}
		if d.EventName == "" {
			return s, invalid("eventName", "missing")
		}
		s.EventName, s.EventSource = d.EventName, d.EventSource
	}
	if u := d.UserIdentity; u != nil {
		s.AccessKeyID = u.AccessKeyID
		s.Username = DeriveUsername(u.Type, u.UserName, u.ARN, u.InvokedBy)
	}
	for _, r := range d.Resources {
		name := r.ARN
		if name == "" {
			name = r.ARNPrefix
		}
		if r.Type == "" && name == "" {
			continue
		}
		s.Resources = append(s.Resources, LookupResource{ResourceType: r.Type, ResourceName: name})
	}
	return s, nil
}

func deriveCategory(d *summaryDoc) string {
	if d.EventCategory != "" {
		return d.EventCategory
	}
	switch {
	case d.EventType == TypeInsight || d.InsightDetails != nil:
		return CategoryInsight
	case d.EventType == TypeVpceEvent:
		return CategoryNetwork
	case d.ManagementEvent != nil && !*d.ManagementEvent:
		return CategoryData
	}
	// Records older than eventVersion 1.07 carry no category; before data
	// events existed every record was a management event, and later ones say
	// managementEvent=false when they are not.
	return CategoryMgmt
}

// DeriveUsername computes LookupEvents' Username from a userIdentity, as
// event-record.md §9.2 describes.
func DeriveUsername(typ, userName, arn, invokedBy string) string {
	switch typ {
	case "IAMUser", "SAMLUser", "WebIdentityUser":
		return userName
	case "AssumedRole", "FederatedUser":
		if i := strings.LastIndexByte(arn, '/'); i >= 0 && i < len(arn)-1 {
			return arn[i+1:]
		}
		return userName
	case "Root":
		if userName != "" {
			return userName
		}
		return "root"
	case "AWSService":
		return invokedBy
	}
	return userName
}

// ValidAccountID reports whether s is a 12-digit account id.
func ValidAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidRegion reports whether s can name a region: 1 to 32 lowercase
// letters, digits and hyphens, starting with a letter. Imported records may
// carry region names AWS does not have; they are kept as they are.
func ValidRegion(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
