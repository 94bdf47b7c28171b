package s3api

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/objstore"
)

// maxListKeys is the default and largest max-keys, as in S3.
const maxListKeys = 1000

// listParams are the parameters of ListObjects (v1) and ListObjectsV2.
type listParams struct {
	V2        bool
	Prefix    string
	Delimiter string
	MaxKeys   int
	EncodeURL bool
	// After is where the listing starts (exclusive): the v1 marker, or the
	// v2 continuation token (decoded) or start-after.
	After string
	// As sent, to echo: v1 marker; v2 start-after and continuation token.
	Marker, StartAfter, Token string
	FetchOwner                bool
}

// parseListParams reads ListObjects' query parameters.
func parseListParams(q url.Values, v2 bool) (listParams, error) {
	p := listParams{V2: v2, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: maxListKeys}
	if s, ok := q["max-keys"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(s[0]))
		if err != nil || n < 0 {
			return listParams{}, errInvalidArgument("max-keys", s[0], "Provided max-keys not an integer or within integer range")
		}
		p.MaxKeys = min(n, maxListKeys)
	}
	switch e := q.Get("encoding-type"); e {
	case "":
	case "url":
		p.EncodeURL = true
	default:
		return listParams{}, errInvalidArgument("encoding-type", e, "Invalid Encoding Method specified in Request")
	}
	if !v2 {
		p.Marker = q.Get("marker")
		p.After = p.Marker
		return p, nil
	}
	p.StartAfter = q.Get("start-after")
	p.After = p.StartAfter
	p.FetchOwner = q.Get("fetch-owner") == "true"
	if t := q.Get("continuation-token"); t != "" {
		after, err := decodeToken(t)
		if err != nil {
			return listParams{}, errInvalidArgument("continuation-token", t, "The continuation token provided is incorrect")
		}
		p.Token, p.After = t, after
	} else if _, ok := q["continuation-token"]; ok {
		return listParams{}, errInvalidArgument("continuation-token", "", "The continuation token provided is incorrect")
	}
	return p, nil
}

// tokenPrefix versions the continuation token format.
const tokenPrefix = "1:"

// encodeToken makes the opaque ListObjectsV2 continuation token for a
// listing that resumes after after.
func encodeToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + after))
}

func decodeToken(t string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return "", fmt.Errorf("decode continuation token: %w", err)
	}
	after, ok := strings.CutPrefix(string(b), tokenPrefix)
	if !ok || !utf8.ValidString(after) {
		return "", errors.New("decode continuation token: not a token this server issued")
	}
	return after, nil
}

// listing is one page of a delimiter-aware listing.
type listing struct {
	Objects   []objstore.Object
	Prefixes  []string
	Truncated bool
	// Last is the last entry returned (key or common prefix), where the
	// next page starts.
	Last string
}

// afterPrefix is a string that sorts after every valid UTF-8 key starting
// with p (0xff never occurs in UTF-8), so that listing after it skips the
// whole common prefix.
func afterPrefix(p string) string { return p + "\xff" }

// commonPrefix returns the common prefix key rolls up into, or "".
func commonPrefix(key, prefix, delimiter string) string {
	if delimiter == "" || !strings.HasPrefix(key, prefix) {
		return ""
	}
	if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
		return key[:len(prefix)+i+len(delimiter)]
	}
	return ""
}

// list runs one page of ListObjects: keys with the prefix strictly after
// p.After, with keys containing the delimiter after the prefix rolled up
// into common prefixes; keys and common prefixes together count against
// max-keys. A common prefix that the start position lies in (it was
// returned on an earlier page) is not repeated.
func (h *Handler) list(ctx context.Context, bucket string, p listParams) (listing, error) {
	var out listing
	if p.MaxKeys == 0 {
		return out, nil
	}
	after := p.After
	if cp := commonPrefix(after, p.Prefix, p.Delimiter); cp != "" {
		after = afterPrefix(cp)
	}
	if after < p.Prefix {
		after = ""
	}
	count := 0
	batch := min(p.MaxKeys+1, maxListKeys)
	for {
		page, err := h.store.List(ctx, bucket, p.Prefix, after, batch)
		if err != nil {
			return listing{}, fmt.Errorf("list %q prefix %q after %q: %w", bucket, p.Prefix, after, err)
		}
		skipTo := ""
		for _, o := range page.Objects {
			if skipTo != "" && strings.HasPrefix(o.Key, skipTo) {
				continue
			}
			cp := commonPrefix(o.Key, p.Prefix, p.Delimiter)
			if count == p.MaxKeys {
				out.Truncated = true
				return out, nil
			}
			count++
			if cp != "" {
				out.Prefixes = append(out.Prefixes, cp)
				out.Last = cp
				skipTo = cp
				continue
			}
			out.Objects = append(out.Objects, o)
			out.Last = o.Key
		}
		if !page.Truncated || len(page.Objects) == 0 {
			return out, nil
		}
		after = page.Objects[len(page.Objects)-1].Key
		if skipTo != "" && strings.HasPrefix(after, skipTo) {
			after = afterPrefix(skipTo)
		}
	}
}

type contentXML struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	Owner        *ownerXML `xml:",omitempty"`
	StorageClass string
}

type prefixXML struct {
	Prefix string
}

type listBucketResultV1 struct {
	XMLName        xml.Name `xml:"ListBucketResult"`
	Xmlns          string   `xml:"xmlns,attr"`
	Name           string
	Prefix         string
	Marker         string
	NextMarker     string `xml:",omitempty"`
	MaxKeys        int
	Delimiter      string `xml:",omitempty"`
	IsTruncated    bool
	Contents       []contentXML
	CommonPrefixes []prefixXML
	EncodingType   string `xml:",omitempty"`
}

type listBucketResultV2 struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Xmlns                 string   `xml:"xmlns,attr"`
	Name                  string
	Prefix                string
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`
	KeyCount              int
	MaxKeys               int
	Delimiter             string `xml:",omitempty"`
	IsTruncated           bool
	Contents              []contentXML
	CommonPrefixes        []prefixXML
	EncodingType          string `xml:",omitempty"`
}

// listRequest parses a ListObjects (v1 or v2) request, checks the caller
// owns the bucket and lists it.
func (h *Handler) listRequest(ctx context.Context, rc *reqCtx, q url.Values, v2 bool) (listParams, listing, error) {
	p, err := parseListParams(q, v2)
	if err != nil {
		return p, listing{}, err
	}
	if _, err := h.ownedBucket(ctx, rc); err != nil {
		return p, listing{}, err
	}
	l, err := h.list(ctx, rc.bucket, p)
	return p, l, err
}

func (h *Handler) listObjectsV1(ctx context.Context, w http.ResponseWriter, rc *reqCtx, q url.Values) error {
	p, l, err := h.listRequest(ctx, rc, q, false)
	if err != nil {
		return err
	}
	enc := encoder(p.EncodeURL)
	res := listBucketResultV1{Xmlns: s3Namespace, Name: rc.bucket, Prefix: enc(p.Prefix), Marker: enc(p.Marker),
		MaxKeys: p.MaxKeys, Delimiter: enc(p.Delimiter), IsTruncated: l.Truncated}
	if l.Truncated && p.Delimiter != "" {
		res.NextMarker = enc(l.Last)
	}
	if p.EncodeURL {
		res.EncodingType = "url"
	}
	owner := ownerOf(rc.caller.AccountID)
	res.Contents = contents(l.Objects, enc, owner)
	res.CommonPrefixes = prefixes(l.Prefixes, enc)
	writeXML(w, res)
	return nil
}

func (h *Handler) listObjectsV2(ctx context.Context, w http.ResponseWriter, rc *reqCtx, q url.Values) error {
	p, l, err := h.listRequest(ctx, rc, q, true)
	if err != nil {
		return err
	}
	enc := encoder(p.EncodeURL)
	res := listBucketResultV2{Xmlns: s3Namespace, Name: rc.bucket, Prefix: enc(p.Prefix),
		ContinuationToken: p.Token, StartAfter: enc(p.StartAfter), KeyCount: len(l.Objects) + len(l.Prefixes),
		MaxKeys: p.MaxKeys, Delimiter: enc(p.Delimiter), IsTruncated: l.Truncated}
	if l.Truncated {
		res.NextContinuationToken = encodeToken(l.Last)
	}
	if p.EncodeURL {
		res.EncodingType = "url"
	}
	var owner *ownerXML
	if p.FetchOwner {
		owner = ownerOf(rc.caller.AccountID)
	}
	res.Contents = contents(l.Objects, enc, owner)
	res.CommonPrefixes = prefixes(l.Prefixes, enc)
	writeXML(w, res)
	return nil
}

func contents(objs []objstore.Object, enc func(string) string, owner *ownerXML) []contentXML {
	out := make([]contentXML, 0, len(objs))
	for _, o := range objs {
		out = append(out, contentXML{Key: enc(o.Key), LastModified: o.LastModified.UTC().Format(timeFormat),
			ETag: quoteETag(o.ETag), Size: o.Size, Owner: owner, StorageClass: "STANDARD"})
	}
	return out
}

func prefixes(ps []string, enc func(string) string) []prefixXML {
	out := make([]prefixXML, 0, len(ps))
	for _, p := range ps {
		out = append(out, prefixXML{Prefix: enc(p)})
	}
	return out
}

func encoder(url bool) func(string) string {
	if url {
		return urlEncode
	}
	return func(s string) string { return s }
}

// urlEncode encodes a key the way S3 does for encoding-type=url: like a
// form value (space as '+'), except that '/' and '*' are left as they are
// and '~' is escaped. Clients decode it with a form-value unescape.
func urlEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '/', c == '*':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// quoteETag returns the ETag in double quotes, as S3 sends it.
func quoteETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, `"`) {
		return etag
	}
	return `"` + etag + `"`
}
