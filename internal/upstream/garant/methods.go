package garant

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Export formats of Download.
const (
	FormatRTF = "rtf"
	FormatODT = "odt"
	FormatPDF = "pdf"
)

// Text limits of the document, in bytes of UTF-8 as Garant counts them:
// a search (and snippets) text is at most 16 KB, a text to put links into
// at most 20 MB.
const (
	MaxSearchText     = 16 << 10
	MaxHyperlinksText = 20 << 20
)

func topicPath(suffix string, topic int) string {
	return "/v2/topic/" + strconv.Itoa(topic) + suffix
}

// Search runs POST /v2/search.
func (c *Client) Search(ctx context.Context, token tenant.Secret, r SearchRequest) (*SearchResult, error) {
	var out SearchResult
	if err := c.call(ctx, token, MethodSearch, http.MethodPost, "/v2/search", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Snippets runs POST /v2/snippets.
func (c *Client) Snippets(ctx context.Context, token tenant.Secret, r SnippetsRequest) (*Snippets, error) {
	var out Snippets
	if err := c.call(ctx, token, MethodSnippets, http.MethodPost, "/v2/snippets", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FindHyperlinks runs POST /v2/find-hyperlinks.
func (c *Client) FindHyperlinks(ctx context.Context, token tenant.Secret, r HyperlinksRequest) (*HyperlinksResult, error) {
	b, err := c.FindHyperlinksJSON(ctx, token, r)
	if err != nil {
		return nil, err
	}
	return DecodeHyperlinks(b)
}

// DecodeHyperlinks decodes an answer of FindHyperlinksJSON; a failure is
// one of an answered call (Garant counted it).
func DecodeHyperlinks(b []byte) (*HyperlinksResult, error) {
	var out HyperlinksResult
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, badAnswer(MethodHyperlinks, http.StatusOK, apperr.UpstreamFailed, "Garant's answer could not be decoded", err)
	}
	return &out, nil
}

// FindHyperlinksJSON runs POST /v2/find-hyperlinks and returns Garant's
// answer undecoded (its text may be 20 MB and more), with room for one more
// byte; the caller checks it.
func (c *Client) FindHyperlinksJSON(ctx context.Context, token tenant.Secret, r HyperlinksRequest) ([]byte, error) {
	var body any = r
	if r.Encoded != nil {
		body = r.Encoded
	}
	b, _, err := c.callJSON(ctx, token, MethodHyperlinks, http.MethodPost, "/v2/find-hyperlinks", body)
	return b, err
}

// Download runs GET /v2/topic/{topic}/download[-odt|-pdf] for format rtf,
// odt or pdf. The file streams; close its Body.
func (c *Client) Download(ctx context.Context, token tenant.Secret, topic int, format string) (*File, error) {
	method, suffix := MethodDownloadRTF, "/download"
	switch format {
	case FormatODT:
		method, suffix = MethodDownloadODT, "/download-odt"
	case FormatPDF:
		method, suffix = MethodDownloadPDF, "/download-pdf"
	}
	return c.file(ctx, token, method, topicPath(suffix, topic), nil)
}

// TopicHTML runs GET /v2/topic/{topic}/html. Links are as Garant sent them;
// see RewriteHTML.
func (c *Client) TopicHTML(ctx context.Context, token tenant.Secret, topic int) (*TopicHTML, error) {
	var out TopicHTML
	if err := c.call(ctx, token, MethodTopicHTML, http.MethodGet, topicPath("/html", topic), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EntryHTML runs GET /v2/topic/{topic}/entry/{entry}/html.
func (c *Client) EntryHTML(ctx context.Context, token tenant.Secret, topic, entry int) (*EntryHTML, error) {
	var out EntryHTML
	path := topicPath("/entry/"+strconv.Itoa(entry)+"/html", topic)
	if err := c.call(ctx, token, MethodEntryHTML, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Image runs GET /v2/image/{objectID}. The file streams; close its Body.
// An empty id, "." or ".." (a path of its own once escaped) is Invalid.
func (c *Client) Image(ctx context.Context, token tenant.Secret, objectID string) (*File, error) {
	if objectID == "" || objectID == "." || objectID == ".." {
		return nil, apperr.InvalidField("path.objectId", "must be an image object id")
	}
	return c.file(ctx, token, MethodImage, "/v2/image/"+url.PathEscape(objectID), nil)
}

// Formula runs GET /v2/formula?text=CODE&fmt=png; code goes verbatim, as
// found in the exported HTML. The file streams; close its Body.
func (c *Client) Formula(ctx context.Context, token tenant.Secret, code, format string) (*File, error) {
	if format == "" {
		format = "png"
	}
	return c.file(ctx, token, MethodFormula, "/v2/formula", url.Values{"text": {code}, "fmt": {format}})
}

// FindModified runs POST /v2/find-modified.
func (c *Client) FindModified(ctx context.Context, token tenant.Secret, r FindModifiedRequest) (*ModifiedTopics, error) {
	var out ModifiedTopics
	if err := c.call(ctx, token, MethodFindModified, http.MethodPost, "/v2/find-modified", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// BlocksChanged runs POST /v2/block-on-control/changed.
func (c *Client) BlocksChanged(ctx context.Context, token tenant.Secret, r BlocksRequest) (*ModifiedBlocks, error) {
	var out ModifiedBlocks
	if err := c.call(ctx, token, MethodBlocksOnControl, http.MethodPost, "/v2/block-on-control/changed", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PrimeCategories runs GET /v2/prime.
func (c *Client) PrimeCategories(ctx context.Context, token tenant.Secret) (*Categories, error) {
	var out Categories
	if err := c.call(ctx, token, MethodPrime, http.MethodGet, "/v2/prime", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PrimeNews runs POST /v2/prime/create-news.
func (c *Client) PrimeNews(ctx context.Context, token tenant.Secret, r NewsRequest) (*News, error) {
	var out News
	if err := c.call(ctx, token, MethodPrimeNews, http.MethodPost, "/v2/prime/create-news", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Topic runs GET /v2/topic/{topic}.
func (c *Client) Topic(ctx context.Context, token tenant.Secret, topic int) (*TopicInfo, error) {
	var out TopicInfo
	if err := c.call(ctx, token, MethodTopic, http.MethodGet, topicPath("", topic), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Editions runs GET on the configured editions path (default
// /v2/redactions/{topic}): a bare array, newest first.
func (c *Client) Editions(ctx context.Context, token tenant.Secret, topic int) ([]Edition, error) {
	var out []Edition
	path := strings.ReplaceAll(c.editions, "{topic}", strconv.Itoa(topic))
	if err := c.call(ctx, token, MethodRedactions, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CourtPractice runs POST /v2/sutyazhnik-search.
func (c *Client) CourtPractice(ctx context.Context, token tenant.Secret, r SutyazhnikRequest) (*Practice, error) {
	var out Practice
	if err := c.call(ctx, token, MethodSutyazhnik, http.MethodPost, "/v2/sutyazhnik-search", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Limits runs GET /v2/limits: what is left of each family this month.
func (c *Client) Limits(ctx context.Context, token tenant.Secret) ([]Limit, error) {
	var out []Limit
	if err := c.call(ctx, token, MethodLimits, http.MethodGet, "/v2/limits", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
