package sns

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// File names inside the directory (docs/format/sns.md).
const (
	stateFile     = "state.json"
	keyFile       = "signing-key.pem"
	certFile      = "signing-cert.pem"
	queueDir      = "queue"
	quarantineDir = "quarantine"
)

const stateVersion = 1

// state is state.json. It is never modified in place: update copies it.
type state struct {
	Version       int             `json:"version"`
	Topics        []*topic        `json:"topics"`
	Subscriptions []*subscription `json:"subscriptions"`
	Tokens        []*token        `json:"tokens"`
}

type topic struct {
	ARN        string            `json:"arn"`
	Account    string            `json:"account"`
	Region     string            `json:"region"`
	Name       string            `json:"name"`
	Created    time.Time         `json:"created"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
}

type subscription struct {
	ARN                          string            `json:"arn"`
	TopicARN                     string            `json:"topicArn"`
	Owner                        string            `json:"owner"`
	Protocol                     string            `json:"protocol"`
	Endpoint                     string            `json:"endpoint"`
	Confirmed                    bool              `json:"confirmed"`
	ConfirmationWasAuthenticated bool              `json:"confirmationWasAuthenticated,omitempty"`
	AuthenticateOnUnsubscribe    bool              `json:"authenticateOnUnsubscribe,omitempty"`
	Attributes                   map[string]string `json:"attributes,omitempty"`
}

type token struct {
	Token           string    `json:"token"`
	TopicARN        string    `json:"topicArn"`
	SubscriptionARN string    `json:"subscriptionArn"`
	Owner           string    `json:"owner"`
	Protocol        string    `json:"protocol"`
	Endpoint        string    `json:"endpoint"`
	Expires         time.Time `json:"expires"`
}

// clone copies the state deeply enough that changing the copy leaves the
// original alone.
func (s *state) clone() *state {
	c := &state{Version: s.Version}
	for _, t := range s.Topics {
		tc := *t
		tc.Attributes = maps.Clone(t.Attributes)
		tc.Tags = maps.Clone(t.Tags)
		c.Topics = append(c.Topics, &tc)
	}
	for _, sub := range s.Subscriptions {
		sc := *sub
		sc.Attributes = maps.Clone(sub.Attributes)
		c.Subscriptions = append(c.Subscriptions, &sc)
	}
	for _, t := range s.Tokens {
		tc := *t
		c.Tokens = append(c.Tokens, &tc)
	}
	return c
}

func (s *state) topic(arn string) *topic {
	for _, t := range s.Topics {
		if t.ARN == arn {
			return t
		}
	}
	return nil
}

func (s *state) subscription(arn string) *subscription {
	for _, sub := range s.Subscriptions {
		if sub.ARN == arn {
			return sub
		}
	}
	return nil
}

func (s *state) subscriptionsOf(topicARN string) []*subscription {
	var out []*subscription
	for _, sub := range s.Subscriptions {
		if sub.TopicARN == topicARN {
			out = append(out, sub)
		}
	}
	return out
}

// dropExpired removes tokens expired at now.
func (s *state) dropExpired(now time.Time) {
	s.Tokens = slices.DeleteFunc(s.Tokens, func(t *token) bool { return !now.Before(t.Expires) })
}

// loadState reads state.json; a missing file is an empty state.
func loadState(dir string) (*state, error) {
	path := filepath.Join(dir, stateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &state{Version: stateVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open sns state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("open sns state: %s does not decode (%w); restore it from a backup or move it away to start without topics", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("open sns state: %s has version %d; this OpenTrail reads version %d", path, st.Version, stateVersion)
	}
	return &st, nil
}

func saveState(dir string, st *state) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("save sns state: %w", err)
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(dir, stateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save sns state: %w", err)
	}
	return nil
}
