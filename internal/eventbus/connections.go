package eventbus

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
)

// Connection and API destination operations (alerts.md §3.5).

func (f *catalogFile) connection(s Scope, name string) (int, *Connection) {
	for i, c := range f.Connections {
		if c.Account == s.Account && c.Region == s.Region && c.Name == name {
			return i, c
		}
	}
	return -1, nil
}

func (f *catalogFile) connectionByARN(s Scope, arn string) *Connection {
	for _, c := range f.Connections {
		if c.Account == s.Account && c.Region == s.Region && c.ARN() == arn {
			return c
		}
	}
	return nil
}

func (f *catalogFile) destination(s Scope, name string) (int, *APIDestination) {
	for i, d := range f.APIDestinations {
		if d.Account == s.Account && d.Region == s.Region && d.Name == name {
			return i, d
		}
	}
	return -1, nil
}

func (f *catalogFile) destinationByARN(s Scope, arn string) *APIDestination {
	for _, d := range f.APIDestinations {
		if d.Account == s.Account && d.Region == s.Region && d.ARN() == arn {
			return d
		}
	}
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func connNotFound(name string) error {
	return errorf(ErrNotFound, "Failed to describe the connection(s). Connection '%s' does not exist.", name)
}

// checkAuth validates a connection's authorization parameters for its type.
func checkAuth(typ string, a *AuthParams) error {
	switch typ {
	case AuthAPIKey:
		if a.APIKey == nil || a.APIKey.APIKeyName == "" || a.APIKey.APIKeyValue == "" {
			return errorf(ErrInvalid, "ApiKeyAuthParameters with ApiKeyName and ApiKeyValue are required for authorization type API_KEY.")
		}
	case AuthBasic:
		if a.Basic == nil || a.Basic.Username == "" || a.Basic.Password == "" {
			return errorf(ErrInvalid, "BasicAuthParameters with Username and Password are required for authorization type BASIC.")
		}
	case AuthOAuth:
		o := a.OAuth
		if o == nil || o.ClientParameters == nil || o.ClientParameters.ClientID == "" || o.ClientParameters.ClientSecret == "" || o.AuthorizationEndpoint == "" {
			return errorf(ErrInvalid, "OAuthParameters with ClientParameters (ClientID, ClientSecret), AuthorizationEndpoint and HttpMethod are required for authorization type OAUTH_CLIENT_CREDENTIALS.")
		}
		if err := checkEndpoint("AuthorizationEndpoint", o.AuthorizationEndpoint); err != nil {
			return err
		}
		switch o.HTTPMethod {
		case "GET", "POST", "PUT":
		default:
			return errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'authParameters.oAuthParameters.httpMethod' failed to satisfy constraint: Member must satisfy enum value set: [GET, POST, PUT]", o.HTTPMethod)
		}
	default:
		return errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'authorizationType' failed to satisfy constraint: Member must satisfy enum value set: [API_KEY, BASIC, OAUTH_CLIENT_CREDENTIALS]", typ)
	}
	if p := a.Invocation; p != nil && (len(p.HeaderParameters) > 100 || len(p.QueryStringParameters) > 100 || len(p.BodyParameters) > 100) {
		return errorf(ErrLimit, "InvocationHttpParameters allows at most 100 header, 100 query string and 100 body parameters.")
	}
	return nil
}

// checkEndpoint accepts an absolute http(s) URL. AWS requires HTTPS;
// OpenTrail also accepts http, for endpoints on the same private network.
func checkEndpoint(member, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errorf(ErrInvalid, "%s %q must be an absolute https URL.", member, s)
	}
	return nil
}

// CreateConnection creates a connection. It is AUTHORIZED at once: OAuth
// tokens are fetched when first needed (and again on 401 and 407).
func (e *Engine) CreateConnection(s Scope, c Connection) (Connection, error) {
	if !connNameRE.MatchString(c.Name) {
		return Connection{}, errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", c.Name)
	}
	if err := checkAuth(c.AuthorizationType, &c.Auth); err != nil {
		return Connection{}, err
	}
	now := e.opts.Now().UTC()
	c.Account, c.Region, c.ID = s.Account, s.Region, newID()
	c.State, c.Created, c.Modified, c.Authorized = ConnAuthorized, now, now, now
	err := e.cat.update(func(f *catalogFile) error {
		if _, old := f.connection(s, c.Name); old != nil {
			return errorf(ErrExists, "Connection %s already exists.", c.Name)
		}
		if countScope(f.Connections, s, func(c *Connection) Scope { return Scope{c.Account, c.Region} }) >= MaxConnections {
			return errorf(ErrLimit, "The requested resource exceeds the maximum number allowed.")
		}
		cc := c
		f.Connections = append(f.Connections, &cc)
		return nil
	})
	return c, err
}

func countScope[T any](xs []T, s Scope, scope func(T) Scope) int {
	n := 0
	for _, x := range xs {
		if scope(x) == s {
			n++
		}
	}
	return n
}

// Connection returns a connection, secrets included (the API strips them).
func (e *Engine) Connection(s Scope, name string) (Connection, error) {
	e.cat.mu.RLock()
	defer e.cat.mu.RUnlock()
	_, c := e.cat.f.connection(s, name)
	if c == nil {
		return Connection{}, connNotFound(name)
	}
	return *c, nil
}

// Connections lists connections by name prefix and, if set, state.
func (e *Engine) Connections(s Scope, prefix, state string) []Connection {
	e.cat.mu.RLock()
	defer e.cat.mu.RUnlock()
	var out []Connection
	for _, c := range e.cat.f.Connections {
		if c.Account == s.Account && c.Region == s.Region && strings.HasPrefix(c.Name, prefix) && (state == "" || c.State == state) {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b Connection) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// UpdateConnection changes a connection: members set in u replace the
// connection's, auth parameters member by member.
func (e *Engine) UpdateConnection(s Scope, name string, u Connection) (Connection, error) {
	var out Connection
	err := e.cat.update(func(f *catalogFile) error {
		_, c := f.connection(s, name)
		if c == nil {
			return connNotFound(name)
		}
		if u.Description != "" {
			c.Description = u.Description
		}
		if u.AuthorizationType != "" && u.AuthorizationType != c.AuthorizationType {
			c.AuthorizationType = u.AuthorizationType
			c.Auth = AuthParams{Invocation: c.Auth.Invocation}
		}
		mergeAuth(&c.Auth, &u.Auth)
		if err := checkAuth(c.AuthorizationType, &c.Auth); err != nil {
			return err
		}
		now := e.opts.Now().UTC()
		c.Modified, c.State, c.StateReason, c.Authorized = now, ConnAuthorized, "", now
		out = *c
		return nil
	})
	if err == nil {
		e.tokens.forget(out.ARN())
	}
	return out, err
}

// mergeAuth copies the members set in u over a.
func mergeAuth(a, u *AuthParams) {
	if u.APIKey != nil {
		if a.APIKey == nil {
			a.APIKey = &APIKeyAuth{}
		}
		a.APIKey.APIKeyName = or(u.APIKey.APIKeyName, a.APIKey.APIKeyName)
		a.APIKey.APIKeyValue = or(u.APIKey.APIKeyValue, a.APIKey.APIKeyValue)
	}
	if u.Basic != nil {
		if a.Basic == nil {
			a.Basic = &BasicAuth{}
		}
		a.Basic.Username = or(u.Basic.Username, a.Basic.Username)
		a.Basic.Password = or(u.Basic.Password, a.Basic.Password)
	}
	if u.OAuth != nil {
		if a.OAuth == nil {
			a.OAuth = &OAuth{}
		}
		o, n := a.OAuth, u.OAuth
		o.AuthorizationEndpoint = or(n.AuthorizationEndpoint, o.AuthorizationEndpoint)
		o.HTTPMethod = or(n.HTTPMethod, o.HTTPMethod)
		if n.ClientParameters != nil {
			if o.ClientParameters == nil {
				o.ClientParameters = &OAuthClient{}
			}
			o.ClientParameters.ClientID = or(n.ClientParameters.ClientID, o.ClientParameters.ClientID)
			o.ClientParameters.ClientSecret = or(n.ClientParameters.ClientSecret, o.ClientParameters.ClientSecret)
		}
		if n.OAuthHTTPParameters != nil {
			o.OAuthHTTPParameters = n.OAuthHTTPParameters
		}
	}
	if u.Invocation != nil {
		a.Invocation = u.Invocation
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// DeauthorizeConnection removes a connection's secrets; its API
// destinations fail until it is updated with new ones.
func (e *Engine) DeauthorizeConnection(s Scope, name string) (Connection, error) {
	var out Connection
	err := e.cat.update(func(f *catalogFile) error {
		_, c := f.connection(s, name)
		if c == nil {
			return connNotFound(name)
		}
		if c.Auth.APIKey != nil {
			c.Auth.APIKey.APIKeyValue = ""
		}
		if c.Auth.Basic != nil {
			c.Auth.Basic.Password = ""
		}
		if c.Auth.OAuth != nil && c.Auth.OAuth.ClientParameters != nil {
			c.Auth.OAuth.ClientParameters.ClientSecret = ""
		}
		c.State, c.StateReason, c.Modified = ConnDeauthorized, "Deauthorized by DeauthorizeConnection", e.opts.Now().UTC()
		out = *c
		return nil
	})
	if err == nil {
		e.tokens.forget(out.ARN())
	}
	return out, err
}

// DeleteConnection deletes a connection that no API destination uses.
func (e *Engine) DeleteConnection(s Scope, name string) (Connection, error) {
	var out Connection
	err := e.cat.update(func(f *catalogFile) error {
		i, c := f.connection(s, name)
		if c == nil {
			return connNotFound(name)
		}
		arn := c.ARN()
		for _, d := range f.APIDestinations {
			if d.ConnectionARN == arn {
				return errorf(ErrInvalid, "Connection %s is used by API destination %s; delete or update it first.", name, d.Name)
			}
		}
		out = *c
		out.State = "DELETING"
		f.Connections = slices.Delete(f.Connections, i, i+1)
		return nil
	})
	if err == nil {
		e.tokens.forget(out.ARN())
	}
	return out, err
}

func destNotFound(name string) error {
	return errorf(ErrNotFound, "Failed to describe the api-destination(s). An api-destination '%s' does not exist.", name)
}

func checkDestination(f *catalogFile, s Scope, d *APIDestination) error {
	if !connNameRE.MatchString(d.Name) {
		return errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", d.Name)
	}
	if f.connectionByARN(s, d.ConnectionARN) == nil {
		return errorf(ErrNotFound, "Connection %s does not exist.", d.ConnectionARN)
	}
	if err := checkEndpoint("InvocationEndpoint", d.Endpoint); err != nil {
		return err
	}
	switch d.Method {
	case "POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE":
	default:
		return errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'httpMethod' failed to satisfy constraint: Member must satisfy enum value set: [POST, GET, HEAD, OPTIONS, PUT, PATCH, DELETE]", d.Method)
	}
	if d.RateLimit < 1 {
		return errorf(ErrInvalid, "1 validation error detected: Value '%d' at 'invocationRateLimitPerSecond' failed to satisfy constraint: Member must have value greater than or equal to 1", d.RateLimit)
	}
	return nil
}

// CreateAPIDestination creates an API destination (ACTIVE).
func (e *Engine) CreateAPIDestination(s Scope, d APIDestination) (APIDestination, error) {
	if d.RateLimit == 0 {
		d.RateLimit = DefaultRateLimit
	}
	now := e.opts.Now().UTC()
	d.Account, d.Region, d.ID, d.State, d.Created, d.Modified = s.Account, s.Region, newID(), "ACTIVE", now, now
	err := e.cat.update(func(f *catalogFile) error {
		if _, old := f.destination(s, d.Name); old != nil {
			return errorf(ErrExists, "An api-destination '%s' already exists.", d.Name)
		}
		if err := checkDestination(f, s, &d); err != nil {
			return err
		}
		if countScope(f.APIDestinations, s, func(d *APIDestination) Scope { return Scope{d.Account, d.Region} }) >= MaxAPIDestinations {
			return errorf(ErrLimit, "The requested resource exceeds the maximum number allowed.")
		}
		dd := d
		f.APIDestinations = append(f.APIDestinations, &dd)
		return nil
	})
	return d, err
}

// APIDestination returns an API destination.
func (e *Engine) APIDestination(s Scope, name string) (APIDestination, error) {
	e.cat.mu.RLock()
	defer e.cat.mu.RUnlock()
	_, d := e.cat.f.destination(s, name)
	if d == nil {
		return APIDestination{}, destNotFound(name)
	}
	return *d, nil
}

// APIDestinations lists API destinations by name prefix and, if set,
// connection.
func (e *Engine) APIDestinations(s Scope, prefix, connection string) []APIDestination {
	e.cat.mu.RLock()
	defer e.cat.mu.RUnlock()
	var out []APIDestination
	for _, d := range e.cat.f.APIDestinations {
		if d.Account == s.Account && d.Region == s.Region && strings.HasPrefix(d.Name, prefix) && (connection == "" || d.ConnectionARN == connection) {
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(a, b APIDestination) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// UpdateAPIDestination changes the members set in u.
func (e *Engine) UpdateAPIDestination(s Scope, name string, u APIDestination) (APIDestination, error) {
	var out APIDestination
	err := e.cat.update(func(f *catalogFile) error {
		_, d := f.destination(s, name)
		if d == nil {
			return destNotFound(name)
		}
		d.Description = or(u.Description, d.Description)
		d.ConnectionARN = or(u.ConnectionARN, d.ConnectionARN)
		d.Endpoint = or(u.Endpoint, d.Endpoint)
		d.Method = or(u.Method, d.Method)
		if u.RateLimit != 0 {
			d.RateLimit = u.RateLimit
		}
		if err := checkDestination(f, s, d); err != nil {
			return err
		}
		d.Modified = e.opts.Now().UTC()
		out = *d
		return nil
	})
	return out, err
}

// DeleteAPIDestination deletes an API destination.
func (e *Engine) DeleteAPIDestination(s Scope, name string) error {
	return e.cat.update(func(f *catalogFile) error {
		i, d := f.destination(s, name)
		if d == nil {
			return destNotFound(name)
		}
		f.APIDestinations = slices.Delete(f.APIDestinations, i, i+1)
		return nil
	})
}
