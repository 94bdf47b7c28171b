package daemon

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/opentrail/opentrail/internal/api"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/lake/querygen"
)

// generatedQueries opens the file of GenerateQuery's aliases in the data
// directory root.
func generatedQueries(root string) (*querygen.Aliases, error) {
	return querygen.OpenAliases(filepath.Join(root, datadir.GeneratedQueriesFile), querygen.DefaultKeep, querygen.DefaultMaxPerAccount, nil)
}

// checkGeneratedQueries is fsck's check of that file.
func checkGeneratedQueries(root string, r *Report) {
	n, err := querygen.CheckAliases(filepath.Join(root, datadir.GeneratedQueriesFile))
	if err != nil {
		r.problem("generated queries: %v", err)
		return
	}
	r.line("generated queries: %d aliases", n)
}

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
