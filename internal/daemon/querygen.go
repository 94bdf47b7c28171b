package daemon

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/opentrail/opentrail/internal/api"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/lake/querygen"
)

// queryGenerator returns GenerateQuery's generator as configured: nil when
// no URL is set, an error (refusing to start) when the URL or model is not
// usable.
func queryGenerator(c config.QueryGenerator, log *slog.Logger) (api.QueryGenerator, error) {
	if c.URL == "" {
		return nil, nil
	}
	o := querygen.DefaultOptions()
	o.URL, o.Model, o.APIKey = c.URL, c.Model, c.APIKey
	if c.Timeout > 0 {
		o.Timeout = time.Duration(c.Timeout)
	}
	g, err := querygen.New(o)
	if err != nil {
		return nil, fmt.Errorf("query generator (--query-generator-url): %w", err)
	}
	log.Info("GenerateQuery asks a chat model", "url", g.Endpoint(), "model", c.Model, "api_key", c.APIKey != "")
	return g, nil
}
