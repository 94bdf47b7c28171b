package s3api

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/opentrail/opentrail/internal/objstore"
)

// defaultRegion is the location of a bucket created without a
// LocationConstraint, as in AWS.
const defaultRegion = "us-east-1"

type ownerXML struct {
	ID          string
	DisplayName string
}

func ownerOf(account string) *ownerXML { return &ownerXML{ID: account, DisplayName: account} }

type bucketXML struct {
	Name         string
	CreationDate string
	BucketRegion string `xml:",omitempty"`
}

type listBucketsResult struct {
	XMLName xml.Name `xml:"ListAllMyBucketsResult"`
	Xmlns   string   `xml:"xmlns,attr"`
	Owner   *ownerXML
	Buckets []bucketXML `xml:"Buckets>Bucket"`
	Prefix  string      `xml:",omitempty"`
}

// listBuckets lists the caller's account's buckets. The prefix and
// bucket-region filters are applied; max-buckets is ignored (every
// bucket is on the one page).
func (h *Handler) listBuckets(ctx context.Context, w http.ResponseWriter, rc *reqCtx, q url.Values) error {
	all, err := h.store.ListBuckets(ctx)
	if err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	prefix, region := q.Get("prefix"), q.Get("bucket-region")
	res := listBucketsResult{Xmlns: s3Namespace, Owner: ownerOf(rc.caller.AccountID), Buckets: []bucketXML{}, Prefix: prefix}
	for _, b := range all {
		if b.Owner != "" && b.Owner != rc.caller.AccountID || !strings.HasPrefix(b.Name, prefix) ||
			region != "" && regionOf(b) != region {
			continue
		}
		res.Buckets = append(res.Buckets, bucketXML{Name: b.Name,
			CreationDate: b.CreationDate.UTC().Format(timeFormat), BucketRegion: regionOf(b)})
	}
	writeXML(w, res)
	return nil
}

func regionOf(b objstore.Bucket) string {
	if b.Region == "" {
		return defaultRegion
	}
	return b.Region
}

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string
}

// createBucket creates a bucket owned by the caller's account, in the
// body's LocationConstraint or, without one, us-east-1 (as AWS does; the
// signing region does not choose it).
func (h *Handler) createBucket(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if !ValidBucketName(rc.bucket) {
		return errInvalidBucketName(rc.bucket)
	}
	region := defaultRegion
	if len(bytes.TrimSpace(rc.body)) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(rc.body, &cfg); err != nil {
			return newErr(http.StatusBadRequest, codeMalformedXML,
				"The XML you provided was not well-formed or did not validate against our published schema.")
		}
		switch loc := strings.TrimSpace(cfg.LocationConstraint); {
		case loc == "":
		case loc == "EU":
			region = "eu-west-1"
		case validRegion(loc):
			region = loc
		default:
			return newErr(http.StatusBadRequest, codeInvalidLocation,
				"The specified location-constraint is not valid").with("LocationConstraint", loc)
		}
	}
	rc.region = region
	if err := checkCannedACL(r.Header.Get("X-Amz-Acl")); err != nil {
		return err
	}
	if err := h.bucketTaken(ctx, rc); err != nil {
		return err
	}
	err := h.store.CreateBucket(ctx, rc.bucket, objstore.BucketOptions{Region: region, Owner: rc.caller.AccountID})
	switch {
	case errors.Is(err, objstore.ErrBucketExists):
		if err := h.bucketTaken(ctx, rc); err != nil {
			return err
		}
		return newErr(http.StatusConflict, codeBucketAlreadyOwnedByYou,
			"Your previous request to create the named bucket succeeded and you already own it.").with("BucketName", rc.bucket)
	case errors.Is(err, objstore.ErrInvalidBucketName):
		return errInvalidBucketName(rc.bucket)
	case err != nil:
		return fmt.Errorf("create bucket %q: %w", rc.bucket, err)
	}
	w.Header().Set("Location", "/"+rc.bucket)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// bucketTaken returns BucketAlreadyOwnedByYou or BucketAlreadyExists when
// the bucket exists, nil when it does not.
func (h *Handler) bucketTaken(ctx context.Context, rc *reqCtx) error {
	b, err := h.store.HeadBucket(ctx, rc.bucket)
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return nil
	case err != nil:
		return fmt.Errorf("head bucket %q: %w", rc.bucket, err)
	case b.Owner != "" && b.Owner != rc.caller.AccountID:
		return newErr(http.StatusConflict, codeBucketAlreadyExists,
			"The requested bucket name is not available. The bucket namespace is shared by all users of the system. "+
				"Please select a different name and try again.").with("BucketName", rc.bucket)
	}
	return newErr(http.StatusConflict, codeBucketAlreadyOwnedByYou,
		"Your previous request to create the named bucket succeeded and you already own it.").with("BucketName", rc.bucket)
}

func (h *Handler) headBucket(ctx context.Context, w http.ResponseWriter, rc *reqCtx) error {
	b, err := h.ownedBucket(ctx, rc)
	if err != nil {
		return err
	}
	w.Header().Set("x-amz-bucket-region", regionOf(b))
	w.WriteHeader(http.StatusOK)
	return nil
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Value   string   `xml:",chardata"`
}

// getBucketLocation answers the bucket's region, empty for us-east-1 as
// S3 does.
func (h *Handler) getBucketLocation(ctx context.Context, w http.ResponseWriter, rc *reqCtx) error {
	b, err := h.ownedBucket(ctx, rc)
	if err != nil {
		return err
	}
	loc := regionOf(b)
	if loc == defaultRegion {
		loc = ""
	}
	writeXML(w, locationConstraint{Xmlns: s3Namespace, Value: loc})
	return nil
}

// ValidBucketName reports whether name follows S3's general-purpose bucket
// naming rules (objstore.CheckBucketName).
func ValidBucketName(name string) bool { return objstore.CheckBucketName(name) == nil }

// validRegion accepts region-shaped names: lowercase letters, digits and
// hyphens, starting with a letter.
func validRegion(s string) bool {
	if len(s) < 2 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// cannedACLs are the x-amz-acl values S3 accepts. The embedded store keeps
// no ACLs: the value is passed to the store and otherwise ignored.
var cannedACLs = map[string]bool{
	"private": true, "public-read": true, "public-read-write": true, "authenticated-read": true,
	"aws-exec-read": true, "bucket-owner-read": true, "bucket-owner-full-control": true, "log-delivery-write": true,
}

func checkCannedACL(acl string) error {
	if acl == "" || cannedACLs[acl] {
		return nil
	}
	return errInvalidArgument("x-amz-acl", acl, "The canned ACL %q is not valid.", acl)
}
