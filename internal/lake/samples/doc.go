// Package samples is OpenTrail's catalogue of CloudTrail Lake sample
// queries and its search, which SearchSampleQueries serves (spec lake.md
// §9; decisions 150–153).
//
// The catalogue is one Markdown file, catalogue.md, embedded in the binary
// and described in its own preamble: a "## Name" heading per query, its
// description, and its SQL in a fenced sql block, with $EDS_ID standing for
// the event data store's ID ([Placeholder]). [Parse] reads that format;
// [Catalogue] returns the embedded queries.
//
// [Search] ranks the queries for an English phrase with Okapi BM25 over
// three weighted fields (name, description, and the words of the SQL),
// after splitting camelCase identifiers, dropping stop words, stemming
// plural and verb endings, and mapping synonyms ("sign-in" and "logon" are
// "login", "firewall" is "security group"). A result's Relevance is its
// score divided by the best score any query could reach for the phrase, so
// it lies in [0, 1] and says how much of the phrase a query covers; queries
// that share no word with the phrase are not returned.
//
// The package is pure: no I/O beyond the embedded file, no cgo.
package samples
