package querygen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors of Generate; the API answers both with GenerateResponseException.
var (
	// ErrUnavailable: the endpoint could not be reached, did not answer
	// in time, answered with an error status or with a body that is not a
	// chat completion. The error's text says which.
	ErrUnavailable = errors.New("querygen: the query generator did not answer")
	// ErrNoQuery: the model answered without a SQL statement.
	ErrNoQuery = errors.New("querygen: the model's answer holds no SQL query")
)

// Options configure a [Client]. Start from [DefaultOptions].
type Options struct {
	// URL is the endpoint: an OpenAI-compatible API's base URL
	// (http://127.0.0.1:11434/v1), to which /chat/completions is added,
	// or the full URL of its chat completions (ending /chat/completions).
	URL string
	// Model is the model name sent with each request (required).
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer APIKey".
	APIKey string
	// Timeout bounds one request, connection and reply included.
	Timeout time.Duration
	// MaxReplyBytes bounds the reply body read.
	MaxReplyBytes int64
	// Transport sends the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
}

// DefaultOptions returns a 45-second timeout and a 1 MiB reply limit.
func DefaultOptions() Options {
	return Options{Timeout: 45 * time.Second, MaxReplyBytes: 1 << 20}
}

// CheckURL reports what is wrong with an endpoint URL, or nil: it must be
// absolute http or https, with a host, without credentials, a query or a
// fragment.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q is not an http:// or https:// URL", raw)
	case u.Host == "":
		return fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return fmt.Errorf("%q holds credentials; give the API key in OPENTRAIL_QUERY_GENERATOR_API_KEY instead", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q has a query or fragment; give the API's base URL, such as http://127.0.0.1:11434/v1", raw)
	}
	return nil
}

// Client asks a chat-completions endpoint for queries. It is safe for
// concurrent use and starts no goroutines.
type Client struct {
	opts     Options
	endpoint string
	http     *http.Client
}

// New validates opts and returns a Client.
func New(opts Options) (*Client, error) {
	if err := CheckURL(opts.URL); err != nil {
		return nil, fmt.Errorf("querygen: %w", err)
	}
	if strings.TrimSpace(opts.Model) == "" {
		return nil, errors.New("querygen: a model name is required")
	}
	if opts.Timeout <= 0 || opts.MaxReplyBytes <= 0 {
		return nil, errors.New("querygen: Timeout and MaxReplyBytes must be positive")
	}
	endpoint := strings.TrimRight(opts.URL, "/")
	if !strings.HasSuffix(endpoint, "/chat/completions") {
		endpoint += "/chat/completions"
	}
	t := opts.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	return &Client{opts: opts, endpoint: endpoint,
		http: &http.Client{Transport: t, Timeout: opts.Timeout,
			// A redirect would resend the prompt (and the key) elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// Endpoint returns the URL requests go to.
func (c *Client) Endpoint() string { return c.endpoint }

// Request is what a query is generated from.
type Request struct {
	Prompt  string // the user's question, in English
	StoreID string // the event data store the query reads
	Schema  string // its columns, one per line with the type
}

// chatMessage, chatRequest and chatResponse are the parts of the OpenAI
// chat-completions wire format used here.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	Temperature float64       `json:"temperature"`
	Stream      bool          `json:"stream"`
}

type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Generate asks the model for a query and returns the statement its reply
// holds (not validated), or an error wrapping ErrUnavailable or
// ErrNoQuery. ctx cancels the request.
func (c *Client) Generate(ctx context.Context, r Request) (string, error) {
	body, err := json.Marshal(chatRequest{Model: c.opts.Model, Messages: []chatMessage{
		{Role: "system", Content: SystemPrompt(r.StoreID, r.Schema)},
		{Role: "user", Content: r.Prompt},
	}})
	if err != nil {
		return "", fmt.Errorf("querygen: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("querygen: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.opts.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Timeout() {
			return "", fmt.Errorf("%w: no answer from %s within %v", ErrUnavailable, c.endpoint, c.opts.Timeout)
		}
		return "", fmt.Errorf("%w: %s: %w", ErrUnavailable, c.endpoint, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxReplyBytes+1))
	if err != nil {
		return "", fmt.Errorf("%w: reading the answer of %s: %w", ErrUnavailable, c.endpoint, err)
	}
	if int64(len(raw)) > c.opts.MaxReplyBytes {
		return "", fmt.Errorf("%w: the answer of %s is larger than %d bytes", ErrUnavailable, c.endpoint, c.opts.MaxReplyBytes)
	}
	var cr chatResponse
	jerr := json.Unmarshal(raw, &cr)
	if resp.StatusCode/100 != 2 {
		detail := ""
		if jerr == nil && cr.Error != nil && cr.Error.Message != "" {
			detail = ": " + clip(cr.Error.Message, 300)
		}
		return "", fmt.Errorf("%w: %s answered HTTP %d%s", ErrUnavailable, c.endpoint, resp.StatusCode, detail)
	}
	if jerr != nil || len(cr.Choices) == 0 || cr.Choices[0].Message.Content == nil {
		return "", fmt.Errorf("%w: the answer of %s is not a chat completion (no choices[0].message.content)", ErrUnavailable, c.endpoint)
	}
	return ExtractSQL(*cr.Choices[0].Message.Content)
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}

// SystemPrompt is the instructions sent before the user's prompt: the
// dialect's rules, the store's ID and its schema.
func SystemPrompt(storeID, schema string) string {
	return `You write SQL queries for CloudTrail Lake as OpenTrail runs it: Trino SQL over AWS CloudTrail events.
Answer with exactly one SELECT statement inside a single ` + "```sql" + ` code block, and nothing else.
Rules:
- The only table is the event data store, named by its ID without quotes: FROM ` + storeID + `
- Column names are case-insensitive; struct fields use dots (userIdentity.arn, userIdentity.sessionContext.sessionIssuer.arn).
- requestParameters, responseElements and additionalEventData are maps of strings: use element_at(requestParameters, 'bucketName').
- eventTime is a timestamp in UTC; compare it with string literals such as eventTime > '2024-01-01 00:00:00', or with date_add('day', -7, now()).
- Only SELECT: never INSERT, UPDATE, DELETE, CREATE, SET or other statements. No semicolons inside the statement.
- Prefer aggregations with GROUP BY and ORDER BY for "top" or "most" questions, and add LIMIT to lists.
The table's columns and types:
` + schema
}
