// Package querygentest is a stub OpenAI-compatible chat-completions
// server for tests of GenerateQuery: it checks each request's shape and
// answers what the test says.
package querygentest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Message is one chat message of a request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is a chat-completions request as the stub received it.
type Request struct {
	Model         string    `json:"model"`
	Messages      []Message `json:"messages"`
	Authorization string    `json:"-"`
	// Context is the HTTP request's: done when the client gives up.
	Context context.Context `json:"-"`
}

// System and User return the request's system and user messages.
func (r Request) System() string { return r.message("system") }
func (r Request) User() string   { return r.message("user") }

func (r Request) message(role string) string {
	for _, m := range r.Messages {
		if m.Role == role {
			return m.Content
		}
	}
	return ""
}

// Server is a running stub.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// New starts a stub serving POST /v1/chat/completions, closed when the
// test ends. answer returns the assistant's content for a request, or a
// status other than 200 with an OpenAI-style error body. A request that is
// not a well-formed chat completion fails the test.
func New(t testing.TB, answer func(Request) (status int, content string)) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Request
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions":
			t.Errorf("stub: %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
		case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
			t.Errorf("stub: Content-Type %q", r.Header.Get("Content-Type"))
		case json.NewDecoder(r.Body).Decode(&req) != nil || req.Model == "" || req.System() == "" || req.User() == "":
			t.Errorf("stub: request %+v is not a chat completion with a model, a system and a user message", req)
		}
		req.Authorization, req.Context = r.Header.Get("Authorization"), r.Context()
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		status, content := answer(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status != http.StatusOK {
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": content, "type": "server_error"}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": content}}},
		})
	}))
	t.Cleanup(s.Close)
	return s
}
