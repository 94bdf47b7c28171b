package eventbus

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// queue is one target's deliveries, sent in order by one goroutine.
type queue struct {
	items   []*delivery
	running bool
}

// enqueue queues a durable delivery and starts its target's sender.
func (e *Engine) enqueue(d *delivery) {
	key := d.Rule + "/" + d.Target
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queues[key]
	if q == nil {
		q = &queue{}
		e.queues[key] = q
	}
	q.items = append(q.items, d)
	e.met.pending.Inc()
	if !q.running {
		q.running = true
		e.deliveries.Add(1)
		go e.drain(key, q)
	}
}

// drain sends a target's deliveries until its queue is empty or the engine
// stops.
func (e *Engine) drain(key string, q *queue) {
	defer e.deliveries.Done()
	for {
		e.mu.Lock()
		if len(q.items) == 0 || e.ctx.Err() != nil {
			q.running = false
			e.mu.Unlock()
			return
		}
		d := q.items[0]
		e.mu.Unlock()
		if !e.deliverWithRetries(d) {
			e.mu.Lock()
			q.running = false
			e.mu.Unlock()
			return // stopping: the delivery stays in the outbox
		}
		e.mu.Lock()
		q.items = q.items[1:]
		e.met.pending.Dec()
		e.mu.Unlock()
		e.out.finish(d.ID)
	}
}

// finalError is a failure that retrying cannot fix.
type finalError struct{ err error }

func (f *finalError) Error() string { return f.err.Error() }
func (f *finalError) Unwrap() error { return f.err }

// deliverWithRetries sends d until it is delivered, dropped or
// dead-lettered (true), or the engine stops (false).
func (e *Engine) deliverWithRetries(d *delivery) bool {
	for attempt := 0; ; attempt++ {
		t, target, err := e.lookupTarget(d)
		if t == nil {
			// The rule or target is gone: nothing to deliver to.
			e.log.Info("eventbus: dropping a delivery whose rule or target was removed", "rule", d.Rule, "target", d.Target)
			e.met.dropped.Inc()
			return true
		}
		if err == nil {
			err = e.send(e.ctx, target, d)
		}
		if err == nil {
			e.met.delivered.Inc()
			return true
		}
		if e.ctx.Err() != nil {
			return false
		}
		e.met.failed.Inc()
		maxRetries, maxAge := t.retries()
		var fe *finalError
		age := e.opts.Now().Sub(d.Time)
		if errors.As(err, &fe) || attempt >= maxRetries || age >= maxAge {
			e.log.Warn("eventbus: giving up on a delivery; it goes to the dead-letter log", "rule", d.Rule, "target", d.Target, "attempts", attempt+1, "err", err)
			if derr := e.out.writeDeadLetter(d, attempt+1, e.opts.Now(), err); derr != nil {
				e.log.Error("eventbus: writing the dead-letter log failed; retrying the delivery instead", "err", derr)
			} else {
				e.met.deadLettered.Inc()
				return true
			}
		} else {
			e.log.Debug("eventbus: delivery failed; retrying", "rule", d.Rule, "target", d.Target, "attempt", attempt+1, "err", err)
		}
		select {
		case <-e.ctx.Done():
			return false
		case <-time.After(e.backoff(attempt)):
		}
	}
}

// backoff is exponential with full jitter, between RetryBase and RetryMax.
func (e *Engine) backoff(attempt int) time.Duration {
	d := e.opts.RetryBase << min(attempt, 20)
	if d > e.opts.RetryMax || d <= 0 {
		d = e.opts.RetryMax
	}
	return e.opts.RetryBase/2 + rand.N(d)
}

// sendTarget is what a delivery needs of its target, looked up when sent.
type sendTarget struct {
	account, region string
	target          Target
	dest            *APIDestination
	conn            *Connection
}

// lookupTarget finds d's rule target; t is nil when it is gone.
func (e *Engine) lookupTarget(d *delivery) (t *Target, st sendTarget, err error) {
	e.cat.mu.RLock()
	defer e.cat.mu.RUnlock()
	var rule *Rule
	for _, r := range e.cat.f.Rules {
		if r.ARN() == d.Rule {
			rule = r
			break
		}
	}
	if rule == nil {
		return nil, st, nil
	}
	for i := range rule.Targets {
		if rule.Targets[i].ID == d.Target && rule.Targets[i].ARN == d.ARN {
			t = &rule.Targets[i]
		}
	}
	if t == nil {
		return nil, st, nil
	}
	st = sendTarget{account: rule.Account, region: rule.Region, target: *t}
	if strings.Contains(t.ARN, ":api-destination/") {
		s := Scope{rule.Account, rule.Region}
		dest := e.cat.f.destinationByARN(s, t.ARN)
		if dest == nil {
			return t, st, &finalError{fmt.Errorf("API destination %s does not exist", t.ARN)}
		}
		conn := e.cat.f.connectionByARN(s, dest.ConnectionARN)
		if conn == nil {
			return t, st, &finalError{fmt.Errorf("connection %s does not exist", dest.ConnectionARN)}
		}
		dc, cc := *dest, *conn
		st.dest, st.conn = &dc, &cc
	}
	return t, st, nil
}

// send makes one attempt.
func (e *Engine) send(ctx context.Context, st sendTarget, d *delivery) error {
	if st.dest == nil {
		if e.opts.Topics == nil {
			return &finalError{errors.New("SNS is not served")}
		}
		if !e.opts.Topics.TopicExists(st.account, st.target.ARN) {
			return &finalError{fmt.Errorf("SNS topic %s does not exist", st.target.ARN)}
		}
		return e.opts.Topics.Publish(ctx, st.account, st.target.ARN, d.Input)
	}
	return e.invoke(ctx, st, d)
}

// invoke calls an API destination (alerts.md §3.5).
func (e *Engine) invoke(ctx context.Context, st sendTarget, d *delivery) error {
	if st.conn.State == ConnDeauthorized {
		return &finalError{fmt.Errorf("connection %s is deauthorized", st.conn.Name)}
	}
	if err := e.limits.wait(ctx, st.dest.ARN(), st.dest.RateLimit); err != nil {
		return err
	}
	u, err := destinationURL(st.dest.Endpoint, st.target.HTTPParameters)
	if err != nil {
		return &finalError{err}
	}
	body := []byte(d.Input)
	if p := st.conn.Auth.Invocation; p != nil && len(p.BodyParameters) > 0 && json.Valid(body) {
		body = addBodyParams(body, p.BodyParameters)
	}
	var rd io.Reader
	if st.dest.Method != http.MethodGet && st.dest.Method != http.MethodHead {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, st.dest.Method, u, rd)
	if err != nil {
		return &finalError{err}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Amazon/EventBridge/ApiDestinations")
	q := req.URL.Query()
	if p := st.target.HTTPParameters; p != nil {
		for k, v := range p.HeaderParameters {
			req.Header.Set(k, v)
		}
		for k, v := range p.QueryStringParameters {
			q.Set(k, v)
		}
	}
	if p := st.conn.Auth.Invocation; p != nil {
		for _, h := range p.HeaderParameters {
			req.Header.Set(h.Key, h.Value)
		}
		for _, h := range p.QueryStringParameters {
			q.Set(h.Key, h.Value)
		}
	}
	req.URL.RawQuery = q.Encode()
	if err := e.authorize(ctx, req, st.conn); err != nil {
		return err
	}
	resp, err := e.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", st.dest.Name, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c < 300:
		return nil
	case c == 401 || c == 407:
		e.tokens.forget(st.conn.ARN())
		return fmt.Errorf("invoke %s: HTTP %d", st.dest.Name, c)
	case c == 409 || c == 429 || c >= 500:
		return fmt.Errorf("invoke %s: HTTP %d", st.dest.Name, c)
	default:
		return &finalError{fmt.Errorf("invoke %s: HTTP %d", st.dest.Name, c)}
	}
}

// destinationURL fills the endpoint's "*" path segments in order.
func destinationURL(endpoint string, p *HTTPParameters) (string, error) {
	if !strings.Contains(endpoint, "*") {
		return endpoint, nil
	}
	var vals []string
	if p != nil {
		vals = p.PathParameterValues
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(endpoint); i++ {
		if endpoint[i] != '*' {
			b.WriteByte(endpoint[i])
			continue
		}
		if n >= len(vals) {
			return "", fmt.Errorf("endpoint %s has more path parameters than the target's PathParameterValues", endpoint)
		}
		b.WriteString(url.PathEscape(vals[n]))
		n++
	}
	return b.String(), nil
}

// addBodyParams adds a connection's body parameters to a JSON object body.
func addBodyParams(body []byte, ps []ConnParam) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil {
		return body
	}
	for _, p := range ps {
		v, _ := json.Marshal(p.Value)
		m[p.Key] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// authorize adds the connection's credentials.
func (e *Engine) authorize(ctx context.Context, req *http.Request, c *Connection) error {
	switch c.AuthorizationType {
	case AuthAPIKey:
		req.Header.Set(c.Auth.APIKey.APIKeyName, c.Auth.APIKey.APIKeyValue)
	case AuthBasic:
		req.SetBasicAuth(c.Auth.Basic.Username, c.Auth.Basic.Password)
	case AuthOAuth:
		tok, err := e.tokens.get(ctx, e.opts.Client, c, e.opts.Now)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return nil
}

// tokenCache keeps OAuth access tokens by connection ARN.
type tokenCache struct {
	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	token   string
	expires time.Time
}

func newTokenCache() *tokenCache { return &tokenCache{tokens: map[string]cachedToken{}} }

func (t *tokenCache) forget(arn string) {
	t.mu.Lock()
	delete(t.tokens, arn)
	t.mu.Unlock()
}

// get returns a token valid for at least another minute, fetching one
// with the client credentials when needed: HTTP Basic with the client id
// and secret, grant_type=client_credentials and the connection's OAuth
// parameters (alerts.md §3.5).
func (t *tokenCache) get(ctx context.Context, client *http.Client, c *Connection, now func() time.Time) (string, error) {
	arn := c.ARN()
	t.mu.Lock()
	ct, ok := t.tokens[arn]
	t.mu.Unlock()
	if ok && now().Add(time.Minute).Before(ct.expires) {
		return ct.token, nil
	}
	o := c.Auth.OAuth
	form := url.Values{"grant_type": {"client_credentials"}}
	q := url.Values{}
	hdr := http.Header{}
	if p := o.OAuthHTTPParameters; p != nil {
		for _, kv := range p.BodyParameters {
			form.Set(kv.Key, kv.Value)
		}
		for _, kv := range p.QueryStringParameters {
			q.Set(kv.Key, kv.Value)
		}
		for _, kv := range p.HeaderParameters {
			hdr.Set(kv.Key, kv.Value)
		}
	}
	endpoint := o.AuthorizationEndpoint
	var body io.Reader
	if o.HTTPMethod == http.MethodGet {
		for k, vs := range form {
			q[k] = vs
		}
	} else {
		body = strings.NewReader(form.Encode())
	}
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(endpoint, "?") {
			sep = "&"
		}
		endpoint += sep + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, o.HTTPMethod, endpoint, body)
	if err != nil {
		return "", &finalError{err}
	}
	req.Header = hdr
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(o.ClientParameters.ClientID+":"+o.ClientParameters.ClientSecret)))
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("oauth token: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return "", fmt.Errorf("oauth token: %s answered HTTP %d", o.AuthorizationEndpoint, resp.StatusCode)
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("oauth token: %s answered without an access_token", o.AuthorizationEndpoint)
	}
	life := time.Hour
	var secs float64
	if json.Unmarshal(tr.ExpiresIn, &secs) == nil && secs > 0 {
		life = time.Duration(secs * float64(time.Second))
	}
	t.mu.Lock()
	t.tokens[arn] = cachedToken{token: tr.AccessToken, expires: now().Add(life)}
	t.mu.Unlock()
	return tr.AccessToken, nil
}

// rateLimits holds one limiter per API destination: excess invocations
// wait, they are not dropped.
type rateLimits struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newRateLimits() *rateLimits { return &rateLimits{m: map[string]*rate.Limiter{}} }

func (r *rateLimits) wait(ctx context.Context, arn string, perSecond int) error {
	r.mu.Lock()
	l := r.m[arn]
	if l == nil || l.Limit() != rate.Limit(perSecond) {
		l = rate.NewLimiter(rate.Limit(perSecond), max(1, perSecond))
		r.m[arn] = l
	}
	r.mu.Unlock()
	return l.Wait(ctx)
}
